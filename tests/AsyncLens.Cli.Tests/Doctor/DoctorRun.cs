using System.Text.RegularExpressions;
using AsyncLens.Testing;

namespace AsyncLens.Cli.Tests.Doctor;

/// <summary>Runs <c>asynclens doctor PID [args]</c> as a user runs it, once, and returns its exit code and output.</summary>
internal static class DoctorRun
{
    public static ProcessResult Run(int pid, params string[] args) =>
        ChildProcess.Dotnet([Repo.Cli, "doctor", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), .. args], timed: false, timeout: TimeSpan.FromMinutes(3));

    /// <summary>The verdict lines of a text answer: after the header, up to the first blank line.</summary>
    public static string[] Verdicts(ProcessResult result) => result.Stdout.Split("\n\n")[1].Split('\n');

    // A live read's stuck-requests verdict ends saying the same ones were still there at a second read, and when; a core
    // dump's, read once, that their ages are not known.
    private const string SecondRead = @" \(all still pending at a second read \d+\.\d s later\)$";

    /// <summary>A live read's stuck-requests <paramref name="verdict"/>: <paramref name="summary"/>, all of them still there at the second read.</summary>
    public static bool IsStuck(string summary, string verdict) => Regex.IsMatch(verdict, "^" + Regex.Escape(summary) + SecondRead);

    /// <summary>The verdict as a read of a core dump (one read) words it.</summary>
    public static string AsOneRead(string verdict) => Regex.Replace(verdict, SecondRead, " (ages are not known from outside)");
}
