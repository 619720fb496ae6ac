using Xtf.Abi;

namespace Xtf.Abi.Tests;

public class ConstantTests
{
    [Test]
    public void DomainIds()
    {
        // docs/pv-abi.md §0.5.
        Assert.That(new[] { DomId.FirstReserved, DomId.Self, DomId.Io, DomId.Xen, DomId.Cow, DomId.Invalid, DomId.Idle, DomId.Mask },
            Is.EqualTo(new ushort[] { 0x7FF0, 0x7FF0, 0x7FF1, 0x7FF2, 0x7FF3, 0x7FF4, 0x7FFF, 0x7FFF }));
    }

    [Test]
    public void PvLayoutValues()
    {
        // docs/pv-abi.md §2.8 and §11.9.
        Assert.That(new[] { PvLayout.FlatKernelCs, PvLayout.FlatKernelSs, PvLayout.FlatKernelDs, PvLayout.FlatRing3Cs32, PvLayout.FlatRing3Ds32 },
            Is.EqualTo(new ushort[] { 0xE033, 0xE02B, 0x0000, 0xE023, 0xE02B }));
        Assert.That(new[] { PvLayout.FlatRing3Cs64, PvLayout.FlatRing3Ss64, PvLayout.FlatRing3Ds64 },
            Is.EqualTo(new ushort[] { 0xE033, 0xE02B, 0x0000 }));
        Assert.That(new[] { PvLayout.HypervisorVirtStart, PvLayout.HypervisorVirtEnd, PvLayout.MachToPhysVirtStart, PvLayout.MachToPhysVirtEnd },
            Is.EqualTo(new[] { 0xFFFF800000000000UL, 0xFFFF880000000000UL, 0xFFFF800000000000UL, 0xFFFF804000000000UL }));
        Assert.That(new[] { PvLayout.LegacyMaxVcpus, PvLayout.FirstReservedGdtEntry, PvLayout.PageSize, PvLayout.PageShift, PvLayout.HypercallStubSize, PvLayout.HypercallStubCount },
            Is.EqualTo(new[] { 32, 7168, 4096, 12, 32, 128 }));
        Assert.That(PvLayout.HypercallStubSize * PvLayout.HypercallStubCount, Is.EqualTo(PvLayout.PageSize));
    }

    [Test]
    public void PageTableFlagValues()
    {
        Assert.That(new[] { PageTableFlags.Present, PageTableFlags.Rw, PageTableFlags.User, PageTableFlags.Accessed, PageTableFlags.Dirty, PageTableFlags.Pse },
            Is.EqualTo(new ulong[] { 0x1, 0x2, 0x4, 0x20, 0x40, 0x80 }));
        Assert.That(PageTableFlags.Nx, Is.EqualTo(0x8000_0000_0000_0000UL));
        Assert.That(PageTableFlags.XenGuestKernel, Is.EqualTo(0x0010_0000_0000_0000UL));
        // docs/pv-abi.md §11.6: builder writes 0x67 for upper levels and 0x23 for L1; docs/dom0.md §6 shows 0x0010000000000027.
        Assert.That(PageTableFlags.Present | PageTableFlags.Rw | PageTableFlags.User | PageTableFlags.Accessed | PageTableFlags.Dirty, Is.EqualTo(0x67UL));
        Assert.That(PageTableFlags.Present | PageTableFlags.Rw | PageTableFlags.Accessed, Is.EqualTo(0x23UL));
        Assert.That(PageTableFlags.XenGuestKernel | PageTableFlags.Present | PageTableFlags.Rw | PageTableFlags.User | PageTableFlags.Accessed,
            Is.EqualTo(0x0010_0000_0000_0027UL));
    }

    [Test]
    public void XenVersionBufferSizes()
    {
        // docs/pv-abi.md §9.
        Assert.That(new[] { XenVersionBuffers.ExtraversionSize, XenVersionBuffers.CapabilitiesSize, XenVersionBuffers.ChangesetSize, XenVersionBuffers.GuestHandleSize, XenVersionBuffers.CommandlineSize },
            Is.EqualTo(new[] { 16, 1024, 64, 16, 1024 }));
    }
}
