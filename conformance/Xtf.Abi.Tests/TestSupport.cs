using System.Buffers.Binary;
using System.Collections;
using System.Reflection;
using Xtf.Abi;

namespace Xtf.Abi.Tests;

/// <summary>
/// Builds the byte image a structure is expected to have, independently of the library: callers pass the
/// offsets of docs/pv-abi.md as literals.
/// </summary>
internal sealed class Image(int size)
{
    private readonly byte[] _bytes = new byte[size];

    public Image U8(int off, byte v) { _bytes[off] = v; return this; }
    public Image I8(int off, sbyte v) { _bytes[off] = unchecked((byte)v); return this; }
    public Image U16(int off, ushort v) { BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(off), v); return this; }
    public Image U32(int off, uint v) { BinaryPrimitives.WriteUInt32LittleEndian(_bytes.AsSpan(off), v); return this; }
    public Image I32(int off, int v) { BinaryPrimitives.WriteInt32LittleEndian(_bytes.AsSpan(off), v); return this; }
    public Image U64(int off, ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(_bytes.AsSpan(off), v); return this; }
    public Image I64(int off, long v) { BinaryPrimitives.WriteInt64LittleEndian(_bytes.AsSpan(off), v); return this; }
    public Image Raw(int off, ReadOnlySpan<byte> v) { v.CopyTo(_bytes.AsSpan(off)); return this; }
    public Image Ascii(int off, string v) { for (var i = 0; i < v.Length; i++) _bytes[off + i] = checked((byte)v[i]); return this; }

    public byte[] ToArray() => (byte[])_bytes.Clone();
}

/// <summary>Distinct, non-zero test values whose bytes all differ, so swapped fields or byte order show up.</summary>
internal static class V
{
    public static ulong Q(int k) => unchecked(0x8877_6655_4433_2211UL + (ulong)k * 0x0101_0101_0101_0101UL);
    public static uint D(int k) => unchecked(0x4433_2211u + (uint)k * 0x0101_0101u);
    public static ushort W(int k) => unchecked((ushort)(0x2211 + k * 0x0101));
    public static byte B(int k) => unchecked((byte)(0x11 + k));
}

internal static class Spec
{
    /// <summary>
    /// Asserts that <typeparamref name="T"/>.Layout declares exactly the given int constants with the given
    /// values (no missing and no extra names), so every field offset is pinned to a number from docs/pv-abi.md.
    /// </summary>
    public static void Layout<T>(params (string Name, int Value)[] expected)
    {
        var layout = typeof(T).GetNestedType("Layout", BindingFlags.Public)
                     ?? throw new AssertionException($"{typeof(T).Name} has no public nested Layout class");
        var actual = layout.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(int))
            .ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);
        var wanted = expected.ToDictionary(e => e.Name, e => e.Value);

        Assert.Multiple(() =>
        {
            foreach (var (name, value) in wanted)
            {
                Assert.That(actual.ContainsKey(name), Is.True, $"{typeof(T).Name}.Layout.{name} is missing");
                if (actual.TryGetValue(name, out var got))
                    Assert.That(got, Is.EqualTo(value), $"{typeof(T).Name}.Layout.{name}");
            }
            foreach (var name in actual.Keys.Except(wanted.Keys))
                Assert.Fail($"{typeof(T).Name}.Layout.{name} is not covered by the layout table in the test");
        });
    }

    /// <summary>
    /// The codec checks every layout test runs: Write produces exactly <paramref name="expected"/> (built from
    /// the literal offsets of docs/pv-abi.md), Read of that image gives back <paramref name="value"/>, only Size bytes are
    /// touched, padding comes out zero even over a dirty buffer, and short buffers are rejected.
    /// </summary>
    public static void Codec<T>(T value, byte[] expected) where T : IAbiStruct<T>
    {
        Assert.That(expected, Has.Length.EqualTo(T.Size), "test image has the wrong size");

        var dirty = Enumerable.Repeat((byte)0xCC, T.Size + 16).ToArray();
        value.Write(dirty);
        SameBytes(dirty.AsSpan(0, T.Size).ToArray(), expected, $"{typeof(T).Name}.Write");
        Assert.That(dirty.Skip(T.Size), Is.All.EqualTo((byte)0xCC), "Write touched bytes beyond Size");

        Deep.AreEqual(value, T.Read(expected), typeof(T).Name);
        var longer = expected.Concat(Enumerable.Repeat((byte)0x5A, 9)).ToArray();
        Deep.AreEqual(value, T.Read(longer), typeof(T).Name + " (read from longer buffer)");

        Assert.Throws<ArgumentException>(() => T.Read(expected.AsSpan(0, T.Size - 1)), "short Read must throw");
        Assert.Throws<ArgumentException>(() => value.Write(new byte[T.Size - 1]), "short Write must throw");
    }

    public static void SameBytes(byte[] actual, byte[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        for (var i = 0; i < expected.Length; i++)
        {
            if (actual[i] != expected[i])
                Assert.Fail($"{what}: first difference at offset {i} (0x{i:X}): got 0x{actual[i]:X2}, expected 0x{expected[i]:X2}");
        }
    }
}

/// <summary>Structural comparison of ABI records, descending into arrays and nested records.</summary>
internal static class Deep
{
    public static void AreEqual(object? expected, object? actual, string path)
    {
        if (expected is null || actual is null)
        {
            Assert.That(actual, Is.EqualTo(expected), path);
            return;
        }
        Assert.That(actual.GetType(), Is.EqualTo(expected.GetType()), path);

        if (expected is IList list && expected is not string)
        {
            var other = (IList)actual;
            Assert.That(other, Has.Count.EqualTo(list.Count), path + ".Length");
            for (var i = 0; i < list.Count; i++)
                AreEqual(list[i], other[i], $"{path}[{i}]");
            return;
        }

        if (expected.GetType().Namespace == typeof(StartInfo).Namespace)
        {
            foreach (var p in expected.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract")
                    AreEqual(p.GetValue(expected), p.GetValue(actual), $"{path}.{p.Name}");
            }
            return;
        }

        Assert.That(actual, Is.EqualTo(expected), path);
    }
}
