using System.Globalization;
using XlaGen;
using XlaGen.Tool;

// xlagen: see Usage.Main for the commands and exit codes.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var output = Console.Out;
if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
{
    (args.Length == 0 ? Console.Error : output).WriteLine(Usage.Main);
    return args.Length == 0 ? ExitCode.Usage : ExitCode.Ok;
}
if (args[0] is "--version")
{
    output.WriteLine($"xlagen {PlatformDescription.RuntimeVersion}");
    return ExitCode.Ok;
}
var rest = args.Skip(1).ToArray();
try
{
    return args[0] switch
    {
        "devices" => DevicesCommand.Run(rest, output),
        "hlo" => HloCommands.Run(rest, output),
        "inspect" => InspectCommand.Run(rest, output),
        // The server's own entry point, options, messages and exit codes (0, 1 cannot listen, 2 usage).
        "serve" => await XlaGen.Server.ServerMain.RunAsync(rest, "xlagen serve"),
        _ => throw new UsageException($"xlagen: unknown command '{args[0]}' (the commands are devices, hlo, inspect, serve; xlagen --help lists them)"),
    };
}
catch (UsageException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(args[0] is "devices" or "hlo" or "inspect" ? $"(xlagen {args[0]} --help explains the arguments)" : "(xlagen --help lists the commands)");
    return ExitCode.Usage;
}
catch (BadInputException e)
{
    Console.Error.WriteLine(e.Message);
    return ExitCode.BadInput;
}
catch (NoDeviceException e)
{
    Console.Error.WriteLine(e.Message);
    return ExitCode.NoDevice;
}
catch (ToolFailureException e)
{
    Console.Error.WriteLine(e.Message);
    return ExitCode.Failure;
}
