using Xtf.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Guest;

// Shared info and event upcalls. The shared_info page is not in dom0's initial mapping: the guest
// maps it over one of its own pages with update_va_mapping (start_info.shared_info holds its
// machine address).
public sealed partial class GuestProgram
{
    private GuestBuffer? sharedInfo;

    /// <summary>PTE flags for a mapping the guest kernel may read and write: present, RW, user, accessed, dirty.</summary>
    public const ulong KernelRwPte = 0x67;

    /// <summary>UVMF_INVLPG: flush the one mapping on this vCPU.</summary>
    public const ulong UvmfInvlpg = 2;

    /// <summary>
    /// The shared_info page as a guest buffer. Using it makes the kernel map the page at boot,
    /// before the test body, so every path through the body sees it; a failing
    /// update_va_mapping panics.
    /// </summary>
    public GuestBuffer SharedInfo
    {
        get
        {
            if (sharedInfo is not null) return sharedInfo;
            var window = Page("shared_info");
            sharedInfo = window;
            if (IsHvm)
            {
                AtBoot(() => EmitHvmSharedInfoMapping(window));
                return window;
            }
            AtBoot(() =>
            {
                var maddr = Val.At(StartInfo, Abi.StartInfo.Layout.SharedInfo);
                var rc = Hypercall(Abi.Hypercall.UpdateVaMapping, window.Ptr, maddr | (long)KernelRwPte, (long)UvmfInvlpg);
                If(rc != 0, () => Panic("update_va_mapping(shared_info) failed: %e", rc));
            });
            return window;
        }
    }

    /// <summary>vcpu_info of vCPU <paramref name="vcpu"/> inside shared_info (vCPUs below 32).</summary>
    public Val UpcallPending(int vcpu = 0) => SharedInfo.U8(Abi.SharedInfo.Layout.VcpuInfoAt(vcpu) + Abi.VcpuInfo.Layout.EvtchnUpcallPending);
    public Val UpcallMask(int vcpu = 0) => SharedInfo.U8(Abi.SharedInfo.Layout.VcpuInfoAt(vcpu) + Abi.VcpuInfo.Layout.EvtchnUpcallMask);
    public Val PendingSel(int vcpu = 0) => SharedInfo.U64(Abi.SharedInfo.Layout.VcpuInfoAt(vcpu) + Abi.VcpuInfo.Layout.EvtchnPendingSel);

    /// <summary>The 64-bit pending word holding <paramref name="port"/> (bit port % 64).</summary>
    public Val PendingWord(Val port) => Val.At(SharedInfo.Ptr + ((port >> 6) << 3), Abi.SharedInfo.Layout.EvtchnPending);
    public Val MaskWord(Val port) => Val.At(SharedInfo.Ptr + ((port >> 6) << 3), Abi.SharedInfo.Layout.EvtchnMask);

    /// <summary>1 when <paramref name="port"/>'s pending bit is set, else 0.</summary>
    public Val PortPending(Val port) => BitOf(PendingWord(port), port & 63);
    public Val PortMasked(Val port) => BitOf(MaskWord(port), port & 63);

    /// <summary>(word &gt;&gt; bit) &amp; 1, evaluated by the guest.</summary>
    public static Val BitOf(Val word, Val bit) => word.ShiftRight(bit) & 1;

    /// <summary>
    /// Declares an event callback: on entry the registers of the interrupted code are saved,
    /// <paramref name="body"/> runs with events masked (Xen masks them on delivery), and the
    /// callback returns through the iret hypercall, which restores the upcall mask from the
    /// frame's IF. Register it with <see cref="SetEventCallback"/>.
    /// </summary>
    public Routine EventCallback(string name, Action body) => Function(name, () =>
    {
        // Xen's frame: rcx, r11, rip, cs, rflags, rsp, ss. Save everything the body may clobber.
        foreach (var r in SavedByCallbacks) a.push(r);
        body();
        for (int i = SavedByCallbacks.Length - 1; i >= 0; i--) a.pop(SavedByCallbacks[i]);
        a.pop(rcx);
        a.pop(r11);
        a.push(0);                                           // iret flags: not in a syscall
        a.jmp(GuestLayout.StubAddress((int)Abi.Hypercall.Iret));
    });

    private static readonly Iced.Intel.AssemblerRegister64[] SavedByCallbacks = [rax, rdx, rsi, rdi, r8, r9, r10, rbx, rbp, r12, r13, r14, r15];

    /// <summary>set_callbacks(event, failsafe = 0, syscall = 0) for the calling vCPU; returns rax.</summary>
    public Val SetEventCallback(Routine callback) =>
        Hypercall(Abi.Hypercall.SetCallbacks, AddressOf(callback), 0, 0);
}
