using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using AsyncLens.Testing;
using Xunit;

namespace AsyncLens.Cli.Tests;

/// <summary>
/// <c>asynclens profile -- Profiled.dll</c> and <c>AsyncProfiler.Start/Stop</c> on tests/Targets/Profiled, whose
/// times are known by construction: DelayTenTimesAsync awaits Task.Delay(200) ten times (wall 2.0 s, on-thread
/// ~0), SpinAsync (4 calls) spins 50 ms after an await (on-thread 0.2 s in all), RunAsync awaits them all.
/// Tolerances allow for a busy 2-core machine; the figures are checked in the table, in callgrind (as
/// callgrind_annotate reads it) and in speedscope JSON. The table, in process and from outside, on .NET 11 too.
/// </summary>
public sealed partial class ProfileTests
{
    private static readonly SourceMarkers s_at = new(Repo.Source("tests", "Targets", "Profiled"));

    // Tables as wide as their names: the tests read whole names (fitting to a width has its own test).
    internal static readonly Dictionary<string, string?> Wide = new() { ["COLUMNS"] = "400" };

    private static ProcessResult Asynclens(params string[] args) => AsynclensOn("net10", args);

    /// <summary>asynclens on <paramref name="runtime"/>: a program it profiles runs with the same <c>dotnet</c>, on the same runtime.</summary>
    private static ProcessResult AsynclensOn(string runtime, params string[] args) =>
        ChildProcess.Dotnet([Repo.Cli, .. args], Wide, timed: false, runtime: TargetRuntime.Named(runtime));

    // The table's first line says which source the profile was measured from: .NET 11's async events
    // (ASYNCLENS_STEP_SOURCE=async-events-only), or the TPL events.
    private static Dictionary<string, string?> WideFrom(string? source) =>
        source is null ? Wide : new(Wide) { ["ASYNCLENS_STEP_SOURCE"] = source };

    private static string FromSource(string? source) => source is null ? "\n" : @", from \.NET 11's async events" + "\n";

    private sealed record Row(string Method, int Calls, int Pending, double Wall, double SelfWall, double OnThread, double InclusiveOnThread, double Awaiting, string At);

    // The table's rows by method: METHOD CALLS PENDING WALL AVG SELF-WALL ON-THREAD INCL AWAITING AT.
    private static Dictionary<string, Row> Rows(string table)
    {
        var rows = new Dictionary<string, Row>();
        foreach (Match m in TableRow().Matches(table))
        {
            double S(int group) => double.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);
            rows[m.Groups[1].Value] = new Row(m.Groups[1].Value, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture),
                S(4), S(6), S(7), S(8), S(9), m.Groups[10].Value);
        }
        return rows;
    }

    private static void CheckKnownTimings(Dictionary<string, Row> rows, string output)
    {
        var delay = rows["Workload.DelayTenTimesAsync()"];
        Assert.True(delay.Calls == 1 && delay.Wall is >= 1.95 and < 3.0 && delay.OnThread < 0.15 && delay.Awaiting >= 1.9, output);
        Assert.Equal($"Program.cs:{s_at.Line("profiled.delay")}", delay.At);
        var spin = rows["Workload.SpinAsync()"];
        Assert.True(spin.Calls == 4 && spin.OnThread is >= 0.195 and < 0.45 && spin.Wall >= spin.OnThread - 0.01, output);
        Assert.Equal($"Program.cs:{s_at.Line("profiled.spin")}", spin.At);
        var run = rows["Workload.RunAsync()"];
        // Inclusive: its own steps and those of everything it awaited; its wall holds theirs.
        Assert.True(run.Calls == 1 && run.Wall >= delay.Wall + spin.Wall - 0.01 && run.InclusiveOnThread >= spin.OnThread + delay.OnThread - 0.001, output);
        Assert.True(run.OnThread < 0.15, output);
        Assert.Equal($"Program.cs:{s_at.Line("profiled.run")}", run.At);
    }

    [Theory]
    [InlineData("net10", null)]
    [InlineData("net11", null)]
    [InlineData("net11", "async-events-only")]
    public void Profile_of_a_program_shows_wall_on_thread_and_awaiting_per_async_method(string runtime, string? source)
    {
        using var dir = new TempDirectory("asynclens-profile-");
        var path = dir.File("profile.txt");
        var result = ChildProcess.Dotnet([Repo.Cli, "profile", "-o", path, "--", Repo.Program("Profiled")], WideFrom(source), timed: false, runtime: TargetRuntime.Named(runtime));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches($@"^asynclens: profile of \d+\.\d{{3}} s \(\d+ async methods\) written to {Regex.Escape(path)}\n$", result.Stderr);
        var table = File.ReadAllText(path);
        Assert.Matches($@"^asynclens profile: \d+\.\d{{3}} s, 5 async methods{FromSource(source)}", table);
        var rows = Rows(table);
        CheckKnownTimings(rows, table);
        Assert.Equal(["Program.Main(string[])", "Workload.DelayTenTimesAsync()", "Workload.FrameworkAsync()", "Workload.RunAsync()", "Workload.SpinAsync()"], rows.Keys.Order(StringComparer.Ordinal));
        Assert.Matches(@"\nWorkload\.RunAsync\(\) +Workload\.SpinAsync\(\) +4 ", table);
        Assert.Matches(@"\nWorkload\.RunAsync\(\) +Workload\.DelayTenTimesAsync\(\) +1 ", table);
    }

    [Theory]
    [InlineData("net10", null)]
    [InlineData("net11", null)]
    [InlineData("net11", "async-events-only")]
    public void The_in_process_api_measures_the_same(string runtime, string? source)
    {
        var result = ChildProcess.Dotnet([Repo.Program("Profiled"), "inprocess", "text"], WideFrom(source), timed: false, runtime: TargetRuntime.Named(runtime));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches($@"^asynclens profile: \d+\.\d{{3}} s, \d+ async methods{FromSource(source)}", result.Stdout);
        var rows = Rows(result.Stdout);
        CheckKnownTimings(rows, result.Stdout);
        // Started inside Main: Main is still pending when Stop() is called.
        Assert.True(rows["Program.Main(string[])"] is { Calls: 0, Pending: 1 }, result.Stdout);
    }

    [Fact]
    public void Framework_async_methods_are_folded_into_the_user_method_unless_asked_for()
    {
        var folded = Asynclens("profile", "--", Repo.Program("Profiled"));
        Assert.True(folded.ExitCode == 0, folded.ToString());
        var rows = Rows(folded.Stderr);
        Assert.DoesNotContain(rows.Keys, k => k.StartsWith("File.", StringComparison.Ordinal) || k.StartsWith("Stream", StringComparison.Ordinal));
        Assert.True(rows["Workload.FrameworkAsync()"].OnThread > 0, folded.Stderr); // the file I/O's steps, folded in

        var listed = Asynclens("profile", "--include-framework", "--", Repo.Program("Profiled"));
        Assert.True(listed.ExitCode == 0, listed.ToString());
        var all = Rows(listed.Stderr);
        Assert.Contains("File.InternalReadAllTextAsync(string, Encoding, CancellationToken)", all.Keys);
        Assert.Equal("-", all["File.InternalReadAllTextAsync(string, Encoding, CancellationToken)"].At);
    }

    [Fact]
    public void Callgrind_output_is_read_by_callgrind_annotate_with_the_right_totals()
    {
        using var dir = new TempDirectory("asynclens-profile-");
        var path = dir.File("async.callgrind");
        var result = Asynclens("profile", "-o", path, "--", Repo.Program("Profiled"));
        Assert.True(result.ExitCode == 0, result.ToString());
        CheckAnnotatedCallgrind(path);
    }

    // callgrind_annotate reads the file: its totals are the file's, and the known timings are there, in microseconds.
    private static void CheckAnnotatedCallgrind(string path)
    {
        var file = File.ReadAllText(path);
        Assert.StartsWith("# callgrind format\nversion: 1\ncreator: asynclens\n", file);
        var summary = Regex.Match(file, @"\nsummary: (\d+) (\d+)\n");
        Assert.True(summary.Success, file);

        var annotate = ChildProcess.Run("callgrind_annotate", ["--inclusive=yes", path], timed: false);
        Assert.True(annotate.ExitCode == 0, annotate.ToString());
        // PROGRAM TOTALS as the file states them; per function, inclusive wall and on-thread in microseconds.
        Assert.Matches($@"\n{Grouped(summary.Groups[1].Value)} \(100\.0%\) +{Grouped(summary.Groups[2].Value)} \(100\.0%\)  PROGRAM TOTALS\n", annotate.Stdout);
        var delay = FunctionLine(annotate.Stdout, "Workload.DelayTenTimesAsync()");
        Assert.True(delay.Wall is >= 1_950_000 and < 3_000_000 && delay.OnThread < 150_000, annotate.Stdout);
        var spin = FunctionLine(annotate.Stdout, "Workload.SpinAsync()");
        Assert.True(spin.OnThread is >= 195_000 and < 450_000, annotate.Stdout);
        var run = FunctionLine(annotate.Stdout, "Workload.RunAsync()");
        Assert.True(run.Wall >= delay.Wall + spin.Wall - 10_000 && run.OnThread >= spin.OnThread, annotate.Stdout);
    }

    [Fact]
    public void Speedscope_output_has_the_call_tree_weighted_by_wall_and_on_thread_time()
    {
        using var dir = new TempDirectory("asynclens-profile-");
        var path = dir.File("async.speedscope.json");
        var result = Asynclens("profile", "-o", path, "--", Repo.Program("Profiled"));
        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        Assert.Equal("https://www.speedscope.app/file-format-schema.json", root.GetProperty("$schema").GetString());
        var frames = root.GetProperty("shared").GetProperty("frames").EnumerateArray().Select(f => f.GetProperty("name").GetString()).ToList();
        var spinFrame = frames.IndexOf("Workload.SpinAsync()");
        var runFrame = frames.IndexOf("Workload.RunAsync()");
        Assert.True(spinFrame >= 0 && runFrame >= 0, string.Join(", ", frames));
        var profiles = root.GetProperty("profiles").EnumerateArray().ToList();
        Assert.Equal(["wall time (async call tree)", "on-thread time (async call tree)"], profiles.Select(p => p.GetProperty("name").GetString()));
        foreach (var profile in profiles)
        {
            Assert.Equal("sampled", profile.GetProperty("type").GetString());
            var weights = profile.GetProperty("weights").EnumerateArray().Select(w => w.GetInt64()).ToList();
            Assert.Equal(profile.GetProperty("endValue").GetInt64(), weights.Sum());
            Assert.Equal(profile.GetProperty("samples").GetArrayLength(), weights.Count);
        }
        // On-thread: the stack Main > RunAsync > SpinAsync weighs SpinAsync's 4 x 50 ms.
        var onThread = profiles[1];
        var samples = onThread.GetProperty("samples").EnumerateArray().Select(s => s.EnumerateArray().Select(i => i.GetInt32()).ToArray()).ToList();
        var weightsOn = onThread.GetProperty("weights").EnumerateArray().Select(w => w.GetInt64()).ToList();
        var spinStack = samples.FindIndex(s => s[^1] == spinFrame);
        Assert.True(spinStack >= 0 && samples[spinStack][^2] == runFrame && weightsOn[spinStack] is >= 195_000 and < 450_000, File.ReadAllText(path));
    }

    [Fact]
    public void A_program_that_ends_before_the_duration_gets_one_line_exit_code_2_and_its_profile()
    {
        using var dir = new TempDirectory("asynclens-profile-");
        var path = dir.File("early.txt");
        var result = Asynclens("profile", "--duration", "20s", "-o", path, "--", Repo.Program("Profiled"), "early");
        Assert.Equal(2, result.ExitCode);
        Assert.Matches($@"^asynclens: profile of \d+\.\d{{3}} s \(\d+ async methods?\) written to {Regex.Escape(path)}\n"
            + @"asynclens: the program exited after \d+\.\d s \(exit code 3\), before --duration 20s was up: the profile of what ran was written\n$", result.Stderr);
        Assert.StartsWith("asynclens profile: ", File.ReadAllText(path));
    }

    [Fact]
    public void The_duration_stops_a_program_that_runs_on()
    {
        var result = Asynclens("profile", "--duration", "3s", "--", Repo.Program("Profiled"), "serve");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("served\n", result.Stdout);
        var rows = Rows(result.Stderr);
        CheckKnownTimings(rows, result.Stderr);
        Assert.Matches(@"^asynclens profile: 3\.\d{3} s, ", result.Stderr);
    }

    // "1234567" -> "1,234,567": how callgrind_annotate prints counts.
    private static string Grouped(string digits) => long.Parse(digits, CultureInfo.InvariantCulture).ToString("N0", CultureInfo.InvariantCulture);

    private static (long Wall, long OnThread) FunctionLine(string annotate, string method)
    {
        var m = Regex.Match(annotate, $@"\n *([\d,]+) \([ \d.]+%\) +([\d,]+) \([ \d.]+%\)  [^\n]*Program\.cs:{Regex.Escape(method)}[^\n]*\n");
        Assert.True(m.Success, $"no line for {method} in:\n{annotate}");
        return (long.Parse(m.Groups[1].Value.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture),
            long.Parse(m.Groups[2].Value.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"(?m)^(\S.*?\)) +(\d+) +(\d+) +(\d+\.\d{3}) +(\S+) +(\d+\.\d{3}) +(\d+\.\d{3}) +(\d+\.\d{3}) +(\d+\.\d{3}) +(\S+)$")]
    private static partial Regex TableRow();
}
