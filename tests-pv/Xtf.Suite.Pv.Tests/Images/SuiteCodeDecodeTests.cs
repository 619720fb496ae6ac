using Xtf.Testing;

namespace Xtf.Suite.Pv.Tests.Images;

/// <summary>Every suite kernel's code decodes cleanly and stays inside the image (<see cref="CodeDecodeChecks"/>).</summary>
[TestFixture]
public sealed class SuiteCodeDecodeTests
{
    [TestCaseSource(typeof(SuiteKernels), nameof(SuiteKernels.CaseNames))]
    public void EveryInstructionDecodes(string name) =>
        CodeDecodeChecks.EveryInstructionDecodes(SuiteKernels.Get(name));

    [TestCaseSource(typeof(SuiteKernels), nameof(SuiteKernels.CaseNames))]
    public void HypercallsTargetStubBoundaries(string name) =>
        CodeDecodeChecks.HypercallsTargetStubBoundaries(SuiteKernels.Get(name));

    [TestCaseSource(typeof(SuiteKernels), nameof(SuiteKernels.CaseNames))]
    public void BranchesStayInsideTheCode(string name) =>
        CodeDecodeChecks.BranchesStayInsideTheCode(SuiteKernels.Get(name));

    [TestCaseSource(typeof(SuiteKernels), nameof(SuiteKernels.CaseNames))]
    public void PrologueSavesStartInfoThenSwitchesStacks(string name) =>
        CodeDecodeChecks.PrologueSavesStartInfoThenSwitchesStacks(SuiteKernels.Get(name));

    [TestCaseSource(typeof(SuiteKernels), nameof(SuiteKernels.CaseNames))]
    public void PrologueChecksTheHypercallPageBeforeAnyCall(string name) =>
        CodeDecodeChecks.PrologueChecksTheHypercallPageBeforeAnyCall(SuiteKernels.Get(name));
}
