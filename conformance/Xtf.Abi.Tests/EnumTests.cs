using Xtf.Abi;

namespace Xtf.Abi.Tests;

public class EnumTests
{
    /// <summary>Asserts the enum defines exactly these members with these numbers (no more, no fewer).</summary>
    private static void Exactly<T>(params (string Name, long Value)[] expected) where T : struct, Enum
    {
        var actual = Enum.GetNames<T>().ToDictionary(n => n, n => Convert.ToInt64(Enum.Parse<T>(n)));
        Assert.That(actual, Is.EquivalentTo(expected.ToDictionary(e => e.Name, e => e.Value)), typeof(T).Name);
    }

    [Test]
    public void HypercallNumbers()
    {
        // docs/pv-abi.md §1.
        Exactly<Hypercall>(("SetTrapTable", 0), ("MmuUpdate", 1), ("SetGdt", 2), ("StackSwitch", 3), ("SetCallbacks", 4),
            ("FpuTaskswitch", 5), ("SchedOpCompat", 6), ("PlatformOp", 7), ("SetDebugreg", 8), ("GetDebugreg", 9),
            ("UpdateDescriptor", 10), ("MemoryOp", 12), ("Multicall", 13), ("UpdateVaMapping", 14), ("SetTimerOp", 15),
            ("EventChannelOpCompat", 16), ("XenVersion", 17), ("ConsoleIo", 18), ("PhysdevOpCompat", 19),
            ("GrantTableOp", 20), ("VmAssist", 21), ("UpdateVaMappingOtherdomain", 22), ("Iret", 23), ("VcpuOp", 24),
            ("SetSegmentBase", 25), ("MmuextOp", 26), ("XsmOp", 27), ("NmiOp", 28), ("SchedOp", 29), ("CallbackOp", 30),
            ("XenoprofOp", 31), ("EventChannelOp", 32), ("PhysdevOp", 33), ("HvmOp", 34), ("Sysctl", 35), ("Domctl", 36),
            ("KexecOp", 37), ("TmemOp", 38), ("ArgoOp", 39), ("XenpmuOp", 40), ("DmOp", 41), ("HypfsOp", 42),
            ("Mca", 48), ("PagingDomctlCont", 49));
    }

    [Test]
    public void SchedOpNumbers() =>
        // docs/pv-abi.md §5.
        Exactly<SchedOp>(("Yield", 0), ("Block", 1), ("Shutdown", 2), ("Poll", 3), ("RemoteShutdown", 4),
            ("ShutdownCode", 5), ("Watchdog", 6), ("PinOverride", 7));

    [Test]
    public void VcpuOpNumbers() =>
        // docs/pv-abi.md §4.0.
        Exactly<VcpuOp>(("Initialise", 0), ("Up", 1), ("Down", 2), ("IsUp", 3), ("GetRunstateInfo", 4),
            ("RegisterRunstateMemoryArea", 5), ("SetPeriodicTimer", 6), ("StopPeriodicTimer", 7),
            ("SetSingleshotTimer", 8), ("StopSingleshotTimer", 9), ("RegisterVcpuInfo", 10), ("SendNmi", 11),
            ("GetPhysid", 12), ("RegisterVcpuTimeMemoryArea", 13));

    [Test]
    public void EvtchnOpNumbers() =>
        // docs/pv-abi.md §7.1.
        Exactly<EvtchnOp>(("BindInterdomain", 0), ("BindVirq", 1), ("BindPirq", 2), ("Close", 3), ("Send", 4),
            ("Status", 5), ("AllocUnbound", 6), ("BindIpi", 7), ("BindVcpu", 8), ("Unmask", 9), ("Reset", 10),
            ("InitControl", 11), ("ExpandArray", 12), ("SetPriority", 13), ("ResetCont", 14));

    [Test]
    public void ConsoleIoAndXenVerNumbers()
    {
        // docs/pv-abi.md §8 and §9.
        Exactly<ConsoleIo>(("Write", 0), ("Read", 1));
        Exactly<XenVer>(("Version", 0), ("Extraversion", 1), ("CompileInfo", 2), ("Capabilities", 3), ("Changeset", 4),
            ("PlatformParameters", 5), ("GetFeatures", 6), ("Pagesize", 7), ("GuestHandle", 8), ("Commandline", 9),
            ("BuildId", 10));
    }

    [Test]
    public void ShutdownRunstateAndStatusNumbers()
    {
        // docs/pv-abi.md §2.2, §2.3, §2.7.
        Exactly<ShutdownReason>(("Poweroff", 0), ("Reboot", 1), ("Suspend", 2), ("Crash", 3), ("Watchdog", 4), ("SoftReset", 5));
        Exactly<RunState>(("Running", 0), ("Runnable", 1), ("Blocked", 2), ("Offline", 3));
        Exactly<EvtchnStatus>(("Closed", 0), ("Unbound", 1), ("Interdomain", 2), ("Pirq", 3), ("Virq", 4), ("Ipi", 5));
    }

    [Test]
    public void VirqNumbersAndClasses()
    {
        // docs/pv-abi.md §2.1.
        Exactly<Virq>(("Timer", 0), ("Debug", 1), ("Console", 2), ("DomExc", 3), ("Tbuf", 4), ("Debugger", 6),
            ("Xenoprof", 7), ("ConRing", 8), ("PcpuState", 9), ("MemEvent", 10), ("Argo", 11), ("Enomem", 12),
            ("Xenpmu", 13), ("Mca", 16), ("Arch1", 17), ("Arch2", 18), ("Arch3", 19), ("Arch4", 20), ("Arch5", 21),
            ("Arch6", 22), ("Arch7", 23));
        Assert.That(VirqClass.Count, Is.EqualTo(24));

        var perVcpu = Enumerable.Range(-2, 30).Where(VirqClass.IsPerVcpu);
        Assert.That(perVcpu, Is.EqualTo(new[] { 0, 1, 7, 13 }));
        var global = Enumerable.Range(-2, 30).Where(VirqClass.IsGlobal);
        Assert.That(global, Is.EqualTo(Enumerable.Range(0, 24).Except([0, 1, 7, 13])), "unused 5, 14, 15 and arch 16..23 are global");
    }

    [Test]
    public void FlagEnums()
    {
        // docs/pv-abi.md §2.4, §2.5, §3.6, §4.9.
        Exactly<VgcfFlags>(("None", 0), ("I387Valid", 0x1), ("InKernel", 0x4), ("FailsafeDisablesEvents", 0x8),
            ("SyscallDisablesEvents", 0x10), ("Online", 0x20), ("InSyscall", 0x100));
        Exactly<SifFlags>(("None", 0), ("Privileged", 0x1), ("InitDomain", 0x2), ("MultibootMod", 0x4),
            ("ModStartPfn", 0x8), ("VirtP2m4Tools", 0x10), ("PmMask", 0xFF00));
        Exactly<TrapInfoFlags>(("None", 0), ("DplMask", 3), ("MaskEvents", 4));
        Exactly<VcpuSshotTmr>(("None", 0), ("Future", 1));
        Assert.That(Enum.GetUnderlyingType(typeof(SifFlags)), Is.EqualTo(typeof(uint)));
        Assert.That((int)(VgcfFlags.InKernel | VgcfFlags.Online), Is.EqualTo(0x24), "docs/pv-abi.md §11.8 vCPU0 flags");
    }

    [Test]
    public void VmAssistFeatureMmuAndMemoryNumbers()
    {
        // docs/pv-abi.md §2.6: valid mask for 64-bit PV is 0x1_0000_003F.
        Exactly<VmAssistType>(("FourGbSegments", 0), ("FourGbSegmentsNotify", 1), ("WritablePagetables", 2),
            ("PaeExtendedCr3", 3), ("ArchitecturalIopl", 4), ("RunstateUpdateFlag", 5), ("M2pStrict", 32));
        var mask = Enum.GetValues<VmAssistType>().Aggregate(0UL, (m, t) => m | 1UL << (int)t);
        Assert.That(mask, Is.EqualTo(0x1_0000_003FUL));

        // docs/pv-abi.md §9 bit numbers (others from Xen's public features.h).
        Exactly<XenFeature>(("WritablePageTables", 0), ("WritableDescriptorTables", 1), ("AutoTranslatedPhysmap", 2),
            ("SupervisorModeKernel", 3), ("PaePgdirAbove4gb", 4), ("MmuPtUpdatePreserveAd", 5), ("HighmemAssist", 6),
            ("GnttabMapAvailBits", 7), ("HvmCallbackVector", 8), ("HvmSafePvclock", 9), ("HvmPirqs", 10), ("Dom0", 11),
            ("GrantMapIdentity", 12), ("MemoryOpVnodeSupported", 13), ("ArmSmcccSupported", 14),
            ("LinuxRsdpUnrestricted", 15), ("NotDirectMapped", 16), ("DirectMapped", 17));
        XenFeature[] domU = [XenFeature.MmuPtUpdatePreserveAd, XenFeature.HighmemAssist, XenFeature.GnttabMapAvailBits,
            XenFeature.MemoryOpVnodeSupported, XenFeature.DirectMapped];
        Assert.That(domU.Aggregate(0u, (m, f) => m | 1u << (int)f), Is.EqualTo(0x000220E0u), "docs/pv-abi.md §9 default domU submap");

        Exactly<MmuUpdateCmd>(("NormalPtUpdate", 0), ("MachphysUpdate", 1), ("PtUpdatePreserveAd", 2));
        // Xen public memory.h.
        Exactly<MemoryOp>(("IncreaseReservation", 0), ("DecreaseReservation", 1), ("MaximumRamPage", 2),
            ("CurrentReservation", 3), ("MaximumReservation", 4), ("PopulatePhysmap", 6), ("AddToPhysmap", 7), ("MemoryMap", 9),
            ("MachineMemoryMap", 10), ("Exchange", 11), ("MaximumGpfn", 14));
    }

    [Test]
    public void GrantTableNumbers()
    {
        // docs/pv-abi.md §13.1.
        Exactly<GnttabOp>(("MapGrantRef", 0), ("UnmapGrantRef", 1), ("SetupTable", 2), ("DumpTable", 3), ("Transfer", 4),
            ("Copy", 5), ("QuerySize", 6), ("UnmapAndReplace", 7), ("SetVersion", 8), ("GetStatusFrames", 9),
            ("GetVersion", 10), ("SwapGrantRef", 11), ("CacheFlush", 12));
        Exactly<GnttabStatus>(("Okay", 0), ("GeneralError", -1), ("BadDomain", -2), ("BadGntref", -3), ("BadHandle", -4),
            ("BadVirtAddr", -5), ("BadDevAddr", -6), ("NoDeviceSpace", -7), ("PermissionDenied", -8), ("BadPage", -9),
            ("BadCopyArg", -10), ("AddressTooBig", -11), ("Eagain", -12), ("NoSpace", -13));
        Exactly<GntMap>(("None", 0), ("DeviceMap", 1), ("HostMap", 2), ("Readonly", 4), ("ApplicationMap", 8), ("ContainsPte", 16));
        Exactly<Gtf>(("Invalid", 0), ("PermitAccess", 1), ("AcceptTransfer", 2), ("Transitive", 3), ("TypeMask", 3),
            ("Readonly", 4), ("Reading", 8), ("Writing", 16), ("Pwt", 32), ("Pcd", 64), ("Pat", 128), ("SubPage", 256));
    }
}
