using Xtf.Elf;
using Xtf.Guest;

namespace Xtf.Suite.Pv.Builder;

/// <summary>
/// A kernel Xen must refuse to build as dom0 (docs/dom0.md §2.2; every message measured on real
/// Xen 4.17.7, see sim/Xtf.Sim.Tests/Builder/Dom0FailureTests.cs). The guest never runs: if it
/// does, it reports FAILURE. The expected outcome is Xen's panic with <see cref="XtfTest.ExpectedRefusal"/>.
/// </summary>
public abstract class RefusedImageTest : XtfTest
{
    public override string Category => "builder";

    public override void Body(GuestProgram g) => g.Failure("Xen built dom0 from an image it must refuse");
}

/// <summary>No XEN_VERSION note: libelf insists on "xen-3.0".</summary>
public sealed class RefuseNoXenVersion : RefusedImageTest
{
    public override string Name => "builder-refuse-no-xen-version";
    public override string Title => "dom0 builder: no XEN_VERSION note";
    public override string ExpectedRefusal => "ERROR: Xen will only load images built for Xen v3.0 (Not '')";
    public override byte[] TransformImage(byte[] elf) => ImageEdits.WithoutNote(elf, XenElfNote.XenVersion);
}

/// <summary>XEN_VERSION "xen-2.0".</summary>
public sealed class RefuseXen2 : RefusedImageTest
{
    public override string Name => "builder-refuse-xen-2.0";
    public override string Title => "dom0 builder: XEN_VERSION xen-2.0";
    public override string ExpectedRefusal => "ERROR: Xen will only load images built for Xen v3.0 (Not 'xen-2.0')";
    public override byte[] TransformImage(byte[] elf) => ImageEdits.WithNote(elf, ElfNote.XenString(XenElfNote.XenVersion, "xen-2.0"));
}

/// <summary>Neither GUEST_OS nor LOADER: not a generic-loader image and not Linux.</summary>
public sealed class RefuseNoLoader : RefusedImageTest
{
    public override string Name => "builder-refuse-no-loader";
    public override string Title => "dom0 builder: neither GUEST_OS nor LOADER";
    public override string ExpectedRefusal =>
        "ERROR: Will only load images built for the generic loader or Linux images (Not '' and '') or with PHYS32_ENTRY set";
    public override byte[] TransformImage(byte[] elf) =>
        ImageEdits.WithoutNote(ImageEdits.WithoutNote(elf, XenElfNote.Loader), XenElfNote.GuestOs);
}

/// <summary>LOADER "foo" with GUEST_OS "Xtf.NET" (not "linux"): refused, both strings quoted.</summary>
public sealed class RefuseLoaderFoo : RefusedImageTest
{
    public override string Name => "builder-refuse-loader-foo";
    public override string Title => "dom0 builder: LOADER foo, GUEST_OS not linux";
    public override string ExpectedRefusal =>
        $"ERROR: Will only load images built for the generic loader or Linux images (Not 'foo' and '{KernelBuilder.GuestOs}') or with PHYS32_ENTRY set";
    public override byte[] TransformImage(byte[] elf) => ImageEdits.WithNote(elf, ElfNote.XenString(XenElfNote.Loader, "foo"));
}

/// <summary>No PT_NOTE at all (and no __xen_guest section).</summary>
public sealed class RefuseNoNotes : RefusedImageTest
{
    public override string Name => "builder-refuse-no-notes";
    public override string Title => "dom0 builder: no ELF notes";
    public override string ExpectedRefusal => "ERROR: Not a Xen-ELF image: No ELF notes or '__xen_guest' section found";
    public override byte[] TransformImage(byte[] elf) => ImageEdits.WithoutNoteSegment(elf);
}

/// <summary>HYPERCALL_PAGE outside [v_start, v_end): refused after the arrangement is printed.</summary>
public sealed class RefuseHypercallPageOutside : RefusedImageTest
{
    public override string Name => "builder-refuse-hypercall-page-outside";
    public override string Title => "dom0 builder: HYPERCALL_PAGE outside the image";
    public override string ExpectedRefusal => "Invalid HYPERCALL_PAGE field in ELF notes.";
    public override byte[] TransformImage(byte[] elf) => ImageEdits.WithNote(elf, ElfNote.XenNumeric(XenElfNote.HypercallPage, 0x10000000));
}

/// <summary>An ELF64 image for EM_386.</summary>
public sealed class RefuseMachineI386 : RefusedImageTest
{
    public override string Name => "builder-refuse-elf64-i386";
    public override string Title => "dom0 builder: ELF64 for EM_386";
    public override string ExpectedRefusal => "Mismatch between Xen and DOM0 kernel";
    public override byte[] TransformImage(byte[] elf) => ImageEdits.WithMachine(elf, ElfMachine.X86);
}

/// <summary>A SUPPORTED_FEATURES note without XENFEAT_dom0.</summary>
public sealed class RefuseNoDom0Feature : RefusedImageTest
{
    public override string Name => "builder-refuse-no-dom0-feature";
    public override string Title => "dom0 builder: SUPPORTED_FEATURES without dom0";
    public override string ExpectedRefusal => "Kernel does not support Dom0 operation";
    public override byte[] TransformImage(byte[] elf) => ImageEdits.WithNote(elf, ElfNote.XenNumeric(XenElfNote.SupportedFeatures, 1, 4));
}

/// <summary>FEATURES requires supervisor_mode_kernel.</summary>
public sealed class RefuseSupervisorModeKernel : RefusedImageTest
{
    public override string Name => "builder-refuse-supervisor-mode-kernel";
    public override string Title => "dom0 builder: FEATURES !supervisor_mode_kernel";
    public override string ExpectedRefusal => "Dom0 requires supervisor-mode execution";
    public override byte[] TransformImage(byte[] elf) => ImageEdits.WithNote(elf, ElfNote.XenString(XenElfNote.Features, "!supervisor_mode_kernel"));
}

/// <summary>FEATURES requires a feature libelf does not know: a parse error without its own line.</summary>
public sealed class RefuseUnknownRequiredFeature : RefusedImageTest
{
    public override string Name => "builder-refuse-unknown-feature";
    public override string Title => "dom0 builder: FEATURES !frobnicate";
    public override string ExpectedRefusal => "Could not construct domain 0";
    public override byte[] TransformImage(byte[] elf) => ImageEdits.WithNote(elf, ElfNote.XenString(XenElfNote.Features, "!frobnicate"));
}

/// <summary>An entry point outside the loaded image.</summary>
public sealed class RefuseEntryOutside : RefusedImageTest
{
    public override string Name => "builder-refuse-entry-outside";
    public override string Title => "dom0 builder: entry beyond the kernel";
    public override string ExpectedRefusal => "ERROR: ELF start or entries are out of bounds";
    public override byte[] TransformImage(byte[] elf) => ImageEdits.WithEntry(elf, 0x10000000);
}

/// <summary>
/// A BSS larger than any machine's RAM the suite runs on (256 GiB): the initial block's order alone exceeds nr_pages,
/// so Xen refuses before it tries to allocate (a BSS of about the RAM size would instead fail the allocation, or fit).
/// </summary>
public sealed class RefuseBssLargerThanRam : RefusedImageTest
{
    public override string Name => "builder-refuse-bss-larger-than-ram";
    public override string Title => "dom0 builder: BSS larger than RAM";
    public override string ExpectedRefusal => "Domain 0 allocation is too small for kernel image";
    public override byte[] TransformImage(byte[] elf) => ImageEdits.WithLoadMemorySize(elf, 0x40_0000_0000);
}
