using Xtf.Guest;

namespace Xtf.Suite.Hvm;

/// <summary>The smallest HVM test: the kernel reaches long mode, fills its hypercall page, prints and reports.</summary>
public sealed class Example : XtfTest
{
    public override string Name => "pvh-hello";
    public override string Title => "Hello World from a PVH dom0";
    public override Environments Environments => Environments.Hvm64;

    public override void Body(GuestProgram g)
    {
        g.Print("Hello World\n");
        g.Success();
    }
}
