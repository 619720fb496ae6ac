using Xtf.Guest;

namespace Xtf.Suite.Pv;

/// <summary>The smallest test: print, report success.</summary>
public sealed class Example : XtfTest
{
    public override string Name => "example";
    public override string Title => "Hello World";

    public override void Body(GuestProgram g)
    {
        g.Print("Hello World\n");
        g.Success();
    }
}
