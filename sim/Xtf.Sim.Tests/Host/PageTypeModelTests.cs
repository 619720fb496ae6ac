using Xtf.Sim.Cpu;
using Xtf.Sim.Tests.Cpu;
using Xtf.Sim.Xen;

namespace Xtf.Sim.Tests.Host;

/// <summary>
/// The page type model of <see cref="Mmu"/> on hand-built tables (ModelRig's machine: every frame
/// the domain's): validation takes the references the entries need and gives them back on the last
/// put, a failure leaves nothing behind, linear entries follow Xen's rules, and the read-only M2P
/// appears at L4 slot 256 once the L4 has it.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class PageTypeModelTests
{
    private const ulong P = 1, Rw = 2, U = 4;

    private static (ModelRig Rig, Mmu Mmu) Rig() { var r = new ModelRig(); return (r, r.Hv.Mmu); }

    private static void Set(ModelRig r, ulong table, int slot, ulong entry) => r.M.Memory.WriteU64((table << 12) + (ulong)(8 * slot), entry);

    [Test]
    public void AnL2TakesItsL1AndTheL1ItsWritablePages()
    {
        var (r, mmu) = Rig();
        ulong l2 = 0xA00, l1 = 0xA01, data = 0xA02;
        Set(r, l1, 3, (data << 12) | P | Rw);
        Set(r, l2, 0, (l1 << 12) | P | Rw);
        Assert.That(mmu.GetPageType(l2, PageType.L2), Is.Zero);
        Assert.Multiple(() =>
        {
            Assert.That(mmu.TypeOf(l1), Is.EqualTo(PageType.L1));
            Assert.That(mmu.TypeOf(data), Is.EqualTo(PageType.Writable));
            Assert.That(mmu.TypeCount(data), Is.EqualTo(1));
            Assert.That(r.M.Memory.ReadU64(l1 << 12 | 3 * 8) & (U | 1UL << 52), Is.EqualTo(U | 1UL << 52), "adjust_guest_l1e: user + guest-kernel");
            Assert.That(r.M.Memory.ReadU64(l2 << 12) & U, Is.EqualTo(U), "adjust_guest_l2e: user");
            Assert.That(mmu.Audit(), Is.Empty);
        });
        mmu.PutPageType(l2);
        Assert.Multiple(() =>
        {
            Assert.That(mmu.TypeCount(l2), Is.Zero);
            Assert.That(mmu.TypeCount(l1), Is.Zero);
            Assert.That(mmu.TypeCount(data), Is.Zero);
            Assert.That(mmu.CanBeWritable(l1), Is.True);
        });
    }

    [Test]
    public void AFailedValidationLeavesNoReference()
    {
        var (r, mmu) = Rig();
        ulong l2 = 0xA10, l1 = 0xA11, data = 0xA12;
        Set(r, l1, 0, (data << 12) | P | Rw);
        Set(r, l1, 1, (l1 << 12) | P | Rw);                    // maps itself writable
        Set(r, l2, 0, (l1 << 12) | P | Rw);
        Assert.That(mmu.GetPageType(l2, PageType.L2), Is.EqualTo(-Abi.Errno.EBUSY));
        Assert.Multiple(() =>
        {
            Assert.That(mmu.TypeCount(l2), Is.Zero);
            Assert.That(mmu.TypeCount(l1), Is.Zero);
            Assert.That(mmu.TypeCount(data), Is.Zero, "the first entry's writable reference went back");
        });
    }

    [Test]
    public void LinearEntriesMustBeReadOnlyAndPointAtValidatedTablesOfTheSameLevel()
    {
        var (r, mmu) = Rig();
        ulong a = 0xA20, b = 0xA21;
        Set(r, a, 5, (a << 12) | P);                            // self, read-only
        Assert.That(mmu.GetPageType(a, PageType.L2), Is.Zero, "a read-only self entry");
        Set(r, b, 0, (a << 12) | P);                            // b -> a, another L2
        Assert.That(mmu.GetPageType(b, PageType.L2), Is.Zero, "read-only entry to another validated L2");
        Assert.That(mmu.TypeCount(a), Is.EqualTo(2), "the linear entry holds a type reference of the target");
        mmu.PutPageType(b);
        Assert.That(mmu.TypeCount(a), Is.EqualTo(1));
        Set(r, b, 0, (a << 12) | P | Rw);
        Assert.That(mmu.GetPageType(b, PageType.L2), Is.EqualTo(-Abi.Errno.EINVAL), "a writable linear entry");
        mmu.PutPageType(a);
        Assert.That(mmu.Audit(), Is.Empty);
    }

    [Test]
    public void TheBuildersTablesArePinnedAndShowTheM2p()
    {
        var (r, mmu) = Rig();
        ulong l4 = r.M.L4Mfn;
        Assert.That(mmu.IsMapped(l4), Is.False, "no slot before the L4 is taken over");
        mmu.DiscoverPageTables(r.M.Cpu.Cr3);
        Assert.Multiple(() =>
        {
            Assert.That(mmu.IsPinned(l4), Is.True);
            Assert.That(mmu.TypeCount(l4), Is.EqualTo(2), "pinned + vCPU 0's base pointer");
            Assert.That(mmu.IsMapped(l4), Is.True);
            Assert.That(r.M.Memory.ReadU64((l4 << 12) + 8 * 258), Is.EqualTo((l4 << 12) | 0x8000_0000_0000_0063UL), "Xen's linear slot");
            Assert.That(mmu.TypeOf(TestMachine.DataVa >> 12), Is.EqualTo(PageType.Writable));
            Assert.That(mmu.Audit(), Is.Empty);
        });
        ulong mfn = TestMachine.DataVa >> 12;
        ulong va = PageWalker.WindowVirtStart + mfn * 8;
        Assert.That(r.M.Interp.Translate(r.M.Cpu, va, AccessKind.Read, true, out ulong ma, out _), Is.True);
        Assert.That(ma, Is.EqualTo(PageWalker.WindowBase + mfn * 8));
        Assert.That(BitConverter.ToUInt64(mmu.Page(mfn / 512), (int)(mfn % 512) * 8), Is.EqualTo(r.Domain.M2p[mfn]));
        Assert.That(r.M.Interp.Translate(r.M.Cpu, va, AccessKind.Write, true, out _, out uint err), Is.False);
        Assert.That(err, Is.EqualTo(7u), "present, write, user");
    }

    [Test]
    public void SetGuestTablesTakesAndGivesBackTheRootType()
    {
        var (r, mmu) = Rig();
        ulong a = 0xA30, b = 0xA31;
        Assert.That(mmu.SetGuestTables(r[0], a, b), Is.Zero);
        Assert.Multiple(() =>
        {
            Assert.That(mmu.TypeOf(a), Is.EqualTo(PageType.L4));
            Assert.That(mmu.TypeOf(b), Is.EqualTo(PageType.L4));
            Assert.That(mmu.IsMapped(a), Is.True, "the kernel L4 gets the read-only M2P");
        });
        Assert.That(mmu.SetGuestTables(r[0], b, 0), Is.Zero);
        Assert.Multiple(() =>
        {
            Assert.That(mmu.TypeCount(a), Is.Zero, "the old kernel L4 went back");
            Assert.That(mmu.TypeCount(b), Is.EqualTo(1));
        });
        Set(r, 0xA32, 0, (0xA32UL << 12) | P | Rw);            // an L4 mapping itself writable: -EINVAL as an L3
        Assert.That(mmu.SetGuestTables(r[0], b, 0xA32), Is.EqualTo(-Abi.Errno.EINVAL));
        Assert.That(mmu.TypeCount(b), Is.EqualTo(1), "nothing more held after a failure");
    }
}
