namespace Xtf.Runner;

public static class Program
{
    public static int Main(string[] args) => XtfCli.Run(args, Console.Out, Console.Error);
}
