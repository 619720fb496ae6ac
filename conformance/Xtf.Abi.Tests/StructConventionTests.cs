using System.Reflection;
using Xtf.Abi;

namespace Xtf.Abi.Tests;

/// <summary>Checks that hold for every ABI record, found by reflection so new structs cannot skip them.</summary>
public class StructConventionTests
{
    private static readonly Type[] AbiTypes = typeof(StartInfo).Assembly.GetExportedTypes()
        .Where(t => t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IAbiStruct<>)))
        .OrderBy(t => t.Name)
        .ToArray();

    [Test]
    public void EveryAbiStructHasALayoutTest()
    {
        // A struct added without a matching "<Name>Layout" test fails here.
        var tested = typeof(StructConventionTests).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods())
            .Where(m => m.GetCustomAttribute<TestAttribute>() is not null && m.Name.EndsWith("Layout", StringComparison.Ordinal))
            .Select(m => m.Name[..^"Layout".Length])
            .ToHashSet();
        Assert.That(AbiTypes.Select(t => t.Name), Is.SubsetOf(tested));
        Assert.That(AbiTypes, Has.Length.EqualTo(62));
    }

    [TestCaseSource(nameof(AbiTypes))]
    public void ShapeIsConsistent(Type type)
    {
        Assert.That(type.IsSealed, Is.True, "sealed");
        Assert.That(type.GetMethod("<Clone>$"), Is.Not.Null, "is a record");

        var layout = type.GetNestedType("Layout")!;
        var consts = layout.GetFields().Where(f => f.IsLiteral).ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);
        var size = (int)typeof(AbiStruct).GetMethod(nameof(AbiStruct.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
        Assert.That(consts["Size"], Is.EqualTo(size), "Layout.Size equals the interface Size");

        // Every settable property names a field, so it must have an in-range offset constant of the same name.
        var fields = type.GetProperties().Where(p => p.SetMethod is not null).ToArray();
        Assert.Multiple(() =>
        {
            foreach (var p in fields)
            {
                Assert.That(consts.ContainsKey(p.Name), Is.True, $"Layout.{p.Name} missing");
                if (consts.TryGetValue(p.Name, out var off))
                    Assert.That(off, Is.InRange(0, size - 1), $"Layout.{p.Name}");
            }
        });
    }

    [TestCaseSource(nameof(AbiTypes))]
    public void DefaultInstanceWritesZerosOverDirtyBuffer(Type type)
    {
        var instance = Activator.CreateInstance(type)!;
        var size = (int)type.GetNestedType("Layout")!.GetField("Size")!.GetRawConstantValue()!;
        var buffer = Enumerable.Repeat((byte)0xEE, size).ToArray();
        // Span<byte> cannot be boxed, so go through a small generic shim.
        typeof(StructConventionTests).GetMethod(nameof(WriteInto), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(type).Invoke(null, [instance, buffer]);
        Assert.That(buffer, Is.All.EqualTo((byte)0), "padding and default fields must be written as zero");
    }

    private static void WriteInto<T>(T value, byte[] buffer) where T : IAbiStruct<T> => value.Write(buffer);
}
