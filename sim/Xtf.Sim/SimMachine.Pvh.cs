using Xtf.Hosting;
using Xtf.Sim.Builder;
using Xtf.Sim.Hvm;
using Xtf.Sim.Memory;

namespace Xtf.Sim;

// A PVH dom0 boot (dom0=pvh): Xen's PVH builder, then the HVM vCPU (docs/hvm.md).
public sealed partial class SimMachine
{
    private SimResult BootPvh(ReadOnlyMemory<byte> kernel, string xenCmd, int vcpus)
    {
        var profile = this.profile = MachineProfile.For(options.MemoryMiB, vcpus, vcpus);
        var memory = new MachineMemory(PvhDom0Builder.GuestFrames(profile))
        {
            MaterialisedFrameLimit = options.Limits.SimulatorMemoryMiB * (1 << 20 >> MachineMemory.PageShift),
        };
        PvhDom0 dom0;
        try
        {
            dom0 = PvhDom0Builder.Build(kernel, options.Dom0CommandLine ?? "", profile, memory);
        }
        catch (DomainBuildException e)
        {
            foreach (var line in e.XenLines) serial.Xen(line);
            serial.Xen("Manual reset required ('noreboot' specified)");
            trace.Note("build failed: " + e.Message);
            return Result(BootEnd.XenPanic, e.Message, 0);
        }
        foreach (var line in dom0.BuildLog) serial.Xen(line);
        serial.Xen($"Initial low memory virq threshold set at 0x{profile.PvhLowMemVirqThreshold:x} pages.");
        foreach (var line in AfterBuild) serial.Xen(line);
        trace.Note($"pvh nr_pages {dom0.NrPages} entry {dom0.Entry:x} start_info {dom0.StartInfo:x}");
        var machine = new HvmMachine(options, clock, serial, trace, meter, profile, memory, dom0, xenCmd);
        return machine.Run(Result);
    }
}
