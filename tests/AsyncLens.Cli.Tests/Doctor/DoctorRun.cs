using AsyncLens.Testing;

namespace AsyncLens.Cli.Tests.Doctor;

/// <summary>Runs <c>asynclens doctor PID [args]</c> as a user runs it, once, and returns its exit code and output.</summary>
internal static class DoctorRun
{
    public static ProcessResult Run(int pid, params string[] args) =>
        ChildProcess.Dotnet([Repo.Cli, "doctor", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), .. args], timed: false, timeout: TimeSpan.FromMinutes(3));

    /// <summary>The verdict lines of a text answer: after the header, up to the first blank line.</summary>
    public static string[] Verdicts(ProcessResult result) => result.Stdout.Split("\n\n")[1].Split('\n');
}
