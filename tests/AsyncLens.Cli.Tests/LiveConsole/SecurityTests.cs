using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests.LiveConsole;

/// <summary>
/// Only the owner gets in: the directory (0700) and the socket (0600) are the owner's; another user (<c>nobody</c>,
/// through runuser) is stopped by the directory; and if the directory is opened up by mistake, the agent's peer check
/// (SO_PEERCRED) still refuses them, and the app writes one line naming who.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
[Collection(ConsoledApp.Collection)]
public sealed class SecurityTests
{
    [Fact]
    public void The_directory_and_the_socket_are_the_owners_alone()
    {
        using var app = new ConsoledApp();
        var dir = $"/tmp/asynclens-{Users.Effective}";
        var stat = ChildProcess.Run("stat", ["-c", "%a %u %F", dir, $"{dir}/{app.PidText}.sock"], timed: false);
        Assert.Equal($"700 {Users.Effective} directory\n600 {Users.Effective} socket\n", stat.Stdout);
        Assert.Equal(0, app.Release());
    }

    [RootFact]
    public void Another_user_is_refused_and_the_app_says_who()
    {
        using var app = new ConsoledApp();
        var nobody = AsNobody("console", app.PidText, "ps");
        Assert.Equal(1, nobody.ExitCode);
        Assert.Equal($"asynclens: process {app.PidText} belongs to root (uid 0): its console lets in only that user and root\n", nobody.Stderr);
        Assert.Equal("", nobody.Stdout);

        // Opened up by mistake: the kernel still names the peer, and the agent refuses it.
        var dir = "/tmp/asynclens-0";
        var socket = $"{dir}/{app.PidText}.sock";
        File.SetUnixFileMode(dir, (UnixFileMode)0x1ED); // 0755
        File.SetUnixFileMode(socket, (UnixFileMode)0x1B6); // 0666
        try
        {
            var refused = AsNobody("console", app.PidText, "ps");
            Assert.Equal(1, refused.ExitCode);
            Assert.Equal($"asynclens: process {app.PidText} refused this connection: its console lets in only root (uid 0)\n", refused.Stderr);
        }
        finally
        {
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.SetUnixFileMode(socket, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        app.WaitFor("refused a connection");
        var line = Assert.Single(app.Output.Split('\n'), l => l.Contains("refused", StringComparison.Ordinal));
        Assert.Matches($@"^asynclens: console: refused a connection from nobody \(uid 65534, pid \d+: {Regex.Escape(ChildProcess.DotnetPath())} {Regex.Escape(Repo.Cli)} console {app.PidText} ps\): only root \(uid 0\) may use this console$", line);
        // The owner still gets in.
        Assert.Equal(0, app.Console("ps").ExitCode);
        Assert.Equal(0, app.Release());
    }

    private static ProcessResult AsNobody(params string[] args) =>
        ChildProcess.Run("runuser", ["-u", "nobody", "--", "env", "HOME=/tmp", "DOTNET_CLI_TELEMETRY_OPTOUT=1", ChildProcess.DotnetPath(), Repo.Cli, .. args], timed: false);
}

/// <summary>A fact that needs root (to run a client as another user): skipped, with the reason, otherwise.</summary>
internal sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (Users.Effective != 0)
            Skip = "needs root, to run the client as another user (runuser -u nobody)";
    }
}

internal static class Users
{
    public static uint Effective => GetEffectiveUserId();

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEffectiveUserId();
}
