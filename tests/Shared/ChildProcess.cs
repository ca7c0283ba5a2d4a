using System.Diagnostics;
using System.Text;

namespace AsyncLens.Testing;

/// <summary>A finished child process: exit code and everything it wrote.</summary>
internal sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>Starts real programs as child processes, the way a user would.</summary>
internal static class ChildProcess
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(90);

    private static readonly string[] s_ourVariables =
    [
        "DOTNET_STARTUP_HOOKS", "ASYNCLENS_DEBUG", "ASYNCLENS_TASKS", "ASYNCLENS_SLOW_MS", "ASYNCLENS_FORMAT",
        "ASYNCLENS_OUTPUT", "ASYNCLENS_DUMP_FORMAT",
    ];

    /// <summary>
    /// Runs <c>dotnet &lt;args&gt;</c> with <paramref name="env"/> added (a null value removes a variable).
    /// A <paramref name="timed"/> run (debug mode watching a program) holds the <see cref="TimingGate"/>.
    /// On <paramref name="runtime"/> (.NET 10, the tests' own, unless said).
    /// </summary>
    public static ProcessResult Dotnet(IEnumerable<string> args, IDictionary<string, string?>? env = null, TimeSpan? timeout = null, bool timed = true, TargetRuntime? runtime = null) =>
        Run((runtime ?? TargetRuntime.Net10).Dotnet, args, (runtime ?? TargetRuntime.Net10).With(env), timeout, timed);

    /// <summary>
    /// Runs <c>dotnet &lt;args&gt;</c> and calls <paramref name="onLine"/> for each line it writes to standard
    /// output, while it runs: to signal it once it says it is ready.
    /// </summary>
    public static ProcessResult DotnetInteractive(IEnumerable<string> args, IDictionary<string, string?>? env, Action<string> onLine, TargetRuntime? runtime = null) =>
        Run((runtime ?? TargetRuntime.Net10).Dotnet, args, (runtime ?? TargetRuntime.Net10).With(env), onLine: onLine);

    public static ProcessResult Run(string program, IEnumerable<string> args, IDictionary<string, string?>? env = null, TimeSpan? timeout = null, bool timed = true, Action<string>? onLine = null)
    {
        using var gate = timed ? TimingGate.Enter() : null;
        var start = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        // The test host's own settings must not leak into the programs under test.
        foreach (var name in s_ourVariables)
            start.Environment.Remove(name);
        SetEnvironment(start, env ?? new Dictionary<string, string?>());

        using var process = Process.Start(start)!;
        var stdout = onLine is null ? process.StandardOutput.ReadToEndAsync() : ReadLinesAsync(process, onLine);
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? DefaultTimeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in {timeout ?? DefaultTimeout}\n{stdout.Result}\n{stderr.Result}");
        }
        return new ProcessResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Adds <paramref name="env"/> to what <paramref name="start"/> passes on (a null value removes a variable).</summary>
    public static void SetEnvironment(ProcessStartInfo start, IEnumerable<KeyValuePair<string, string?>> env)
    {
        foreach (var (name, value) in env)
        {
            if (value is null)
                start.Environment.Remove(name);
            else
                start.Environment[name] = value;
        }
    }

    private static async Task<string> ReadLinesAsync(Process process, Action<string> onLine)
    {
        var all = new StringBuilder();
        await ReadLinesAsync(process.StandardOutput, all, onLine);
        return all.ToString();
    }

    /// <summary>
    /// Reads <paramref name="reader"/> (a child's stdout or stderr) to its end, appending each line to
    /// <paramref name="into"/> (under its lock: readable while this runs) and then calling <paramref name="onLine"/>.
    /// </summary>
    public static Task ReadLinesAsync(TextReader reader, StringBuilder into, Action<string> onLine)
    {
        var reading = ReadAllLinesAsync(reader, into, onLine);
        s_reading.AddOrUpdate(reader, reading);
        return reading;
    }

    private static async Task ReadAllLinesAsync(TextReader reader, StringBuilder into, Action<string> onLine)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (into)
                into.Append(line).Append('\n');
            onLine(line);
        }
    }

    // Each child's output being read by ReadLinesAsync, by reader (a process's StandardOutput/StandardError).
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<TextReader, Task> s_reading = new();

    /// <summary>
    /// Once <paramref name="process"/> exited, waits (up to 10 s) for ReadLinesAsync to reach the end of its output: a
    /// reader still running when the test ends is the test's leak ([DetectAsyncLeaks] on the suites), and what it had
    /// yet to read is lost.
    /// </summary>
    public static void WaitForOutput(Process process)
    {
        var readers = new List<Task>();
        if (process.StartInfo.RedirectStandardOutput && s_reading.TryGetValue(process.StandardOutput, out var stdout))
            readers.Add(stdout);
        if (process.StartInfo.RedirectStandardError && s_reading.TryGetValue(process.StandardError, out var stderr))
            readers.Add(stderr);
        try
        {
            Task.WaitAll([.. readers], TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // A reader that failed has ended: that is all this waits for.
        }
    }

    public static string DotnetPath()
    {
        var coreLib = typeof(object).Assembly.Location;
        var root = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(coreLib))))!;
        var dotnet = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(dotnet) ? dotnet : "dotnet";
    }
}
