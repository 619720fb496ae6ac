namespace Xtf.Guest;

/// <summary>
/// Marks an assembly as a conformance suite (tests-pv/Xtf.Suite.Pv, tests-hvm/...). The runner loads
/// every <c>Xtf.Suite.*.dll</c> beside it that carries this attribute; no suite is named in code.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = false)]
public sealed class XtfSuiteAttribute(string name, string description) : Attribute
{
    /// <summary>Short name: "pv", "hvm".</summary>
    public string Name { get; } = name;
    public string Description { get; } = description;
}
