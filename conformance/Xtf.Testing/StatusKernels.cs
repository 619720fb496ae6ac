using Xtf.Guest;

namespace Xtf.Testing;

/// <summary>Kernels that end each way the runner must recognise. Not part of the suite.</summary>
public static class StatusKernels
{
    public static KernelImage Build(string name, Action<GuestProgram> body) =>
        KernelBuilder.Build($"test-pv64-{name}", $"Runner check: {name}", body);

    public static KernelImage Failure() => Build("failure", g => { g.Failure("Deliberate failure: %d", 7); g.Success(); });
    public static KernelImage Skip() => Build("skip", g => g.Skip("Deliberate skip"));
    public static KernelImage Error() => Build("error", g => { g.Error("Deliberate error"); g.Skip("a skip after it"); });
    public static KernelImage Nothing() => Build("nothing", g => g.Print("reporting nothing\n"));
    public static KernelImage Warning() => Build("warning", g => { g.Warning("Deliberate warning"); g.Success(); });

    /// <summary>A load from a non-canonical address: #GP(0) at the label "fault".</summary>
    public static KernelImage GeneralProtection() => Build("gp", g =>
    {
        var fault = g.NewLabel("fault");
        g.Asm.mov(Iced.Intel.AssemblerRegisters.rax, 0x8000_0000_0000_0000UL);
        g.Mark(fault);
        g.Asm.mov(Iced.Intel.AssemblerRegisters.rax, Iced.Intel.AssemblerRegisters.__qword_ptr[Iced.Intel.AssemblerRegisters.rax]);
        g.Success();
    });

    /// <summary>ud2 at the label "fault".</summary>
    public static KernelImage InvalidOpcode() => Build("ud", g =>
    {
        var fault = g.NewLabel("fault");
        g.Mark(fault);
        g.Asm.ud2();
        g.Success();
    });

    public static KernelImage Spin() => Build("spin", g => { g.Print("spinning\n"); g.Spin(); });
}
