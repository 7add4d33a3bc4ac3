namespace XlaGen.Tool.Tests;

/// <summary>Help, usage errors and their exit codes (0 ok, 2 usage).</summary>
public class UsageTests
{
    [Fact]
    public void WithoutArgumentsItPrintsTheCommandsAndExitsWithTheUsageCode()
    {
        var r = Xlagen.Run();
        Assert.Equal(2, r.Code);
        foreach (var command in new[] { "devices", "hlo print", "hlo convert", "hlo run", "inspect", "serve" }) Assert.Contains(command, r.Stderr);
    }

    [Fact]
    public void HelpListsCommandsAndExitCodes()
    {
        var r = Xlagen.Run("--help");
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("exit codes:", r.Stdout);
        Assert.Contains("4  the device could not be opened or reached", r.Stdout);
    }

    [Theory]
    [InlineData("devices", "usage: xlagen devices [SPEC]")]
    [InlineData("hlo", "xlagen hlo run FILE [options]")]
    [InlineData("inspect", "usage: xlagen inspect FILE")]
    [InlineData("serve", "usage: xlagen serve [options]")]
    public void EveryCommandHasHelp(string command, string expected)
    {
        var r = Xlagen.Run(command, "--help");
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains(expected, r.Stdout);
    }

    [Fact]
    public void HloSubcommandsHaveHelp()
    {
        foreach (var sub in new[] { "print", "convert", "run" })
        {
            var r = Xlagen.Run("hlo", sub, "--help");
            Assert.True(r.Code == 0, r.ToString());
            Assert.Contains("--input NAME=FILE.npy", r.Stdout);
        }
    }

    [Fact]
    public void AnUnknownCommandIsAUsageError()
    {
        var r = Xlagen.Run("compile", "x.hlo");
        Assert.Equal(2, r.Code);
        Assert.Contains("xlagen: unknown command 'compile'", r.Stderr);
    }

    [Fact]
    public void AnUnknownOptionIsNamed()
    {
        var r = Xlagen.Run("hlo", "run", "x.hlo", "--inputs", "a=b.npy");
        Assert.Equal(2, r.Code);
        Assert.Contains("xlagen hlo run: unknown option '--inputs'", r.Stderr);
        Assert.Contains("--input", r.Stderr);
    }

    [Fact]
    public void AMissingArgumentIsNamed()
    {
        var r = Xlagen.Run("hlo", "convert", "in.hlo");
        Assert.Equal(2, r.Code);
        Assert.Contains("xlagen hlo convert: missing OUT", r.Stderr);
        r = Xlagen.Run("inspect");
        Assert.Equal(2, r.Code);
        Assert.Contains("xlagen inspect: missing FILE", r.Stderr);
    }

    [Fact]
    public void ServeRefusesABadOptionWithTheServersMessage()
    {
        var r = Xlagen.Run("serve", "--listen", "nowhere");
        Assert.Equal(2, r.Code);
        Assert.StartsWith("xlagen serve: --listen", r.Stderr);
    }
}
