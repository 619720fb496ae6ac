namespace Xtf.Guest;

public sealed partial class GuestProgram
{
    /// <summary>Length of the instruction after <see cref="ImageEnd"/>'s label: the image ends that many bytes later.</summary>
    private const int ImageEndTail = 2;

    private GuestLabel? imageEnd;

    /// <summary>
    /// The address one past the last byte of the loaded image (the end of the PT_LOAD segment,
    /// Xen's <c>virt_kend</c>), known only once the kernel is linked.
    /// </summary>
    public Val ImageEnd => AddressOf(imageEnd ??= NewLabel("image_end")) + ImageEndTail;

    /// <summary>Called last by the epilogue: places the image-end label before a final ud2.</summary>
    private void EmitImageEnd()
    {
        if (imageEnd is null) return;
        Bind(imageEnd);
        a.ud2();
    }
}
