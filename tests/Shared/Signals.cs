using System.Diagnostics;
using System.Globalization;

namespace AsyncLens.Testing;

/// <summary>Sends signals to programs under test the way a user would: <c>kill -USR1 &lt;pid&gt;</c>.</summary>
internal static class Signals
{
    public static void Send(string signal, int pid)
    {
        using var kill = Process.Start("kill", [signal, pid.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>Sends a signal to every process of a process group, as a terminal does for Ctrl+C (<c>kill -INT -- -PGID</c>).</summary>
    public static void SendToGroup(string signal, int processGroup)
    {
        using var kill = Process.Start("kill", [signal, "--", "-" + processGroup.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>
    /// A line handler for <see cref="ChildProcess.DotnetInteractive"/>: the first time the program writes
    /// <c>parked &lt;pid&gt;</c> (tests/Targets/Chains), sends it SIGUSR1. The pid is the program's own, which
    /// is not the started process's when a launcher (<c>asynclens run</c>) sits between.
    /// </summary>
    public static Action<string> Sigusr1WhenParked()
    {
        var sent = 0;
        return line =>
        {
            if (line.StartsWith("parked ", StringComparison.Ordinal) && Interlocked.Exchange(ref sent, 1) == 0)
                Send("-USR1", int.Parse(line["parked ".Length..], CultureInfo.InvariantCulture));
        };
    }
}
