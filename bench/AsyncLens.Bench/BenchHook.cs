using System.Diagnostics.Tracing;
using AsyncLens.Tracking;
using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Bench;

/// <summary>
/// The parts of debug mode on the async events alone, each on its own in a server (<see cref="StartupHook"/>), with
/// what it saw written to standard error at exit (<c>asynclens-bench: ...</c>: the benchmark checks it saw something):
/// <list type="bullet">
/// <item><c>async-events-ignored@0xMASK</c>: <c>AsyncProfilerEventSource</c> with those keywords, buffers ignored (the runtime's part);</item>
/// <item><c>async-events-decoded</c>: the buffers of debug mode's keywords decoded and assembled into steps by debug mode's
/// own sink (<see cref="EventSteps"/>, stacks remembered, no step slow): debug mode's event path short of a report;</item>
/// <item><c>count@0xMASK</c>: the buffers decoded and each event counted by kind (not for timed runs);</item>
/// <item><c>request-frames</c>: hosting's BeginRequest/EndRequest and routing's EndpointMatched from the
/// <c>Microsoft.AspNetCore</c> DiagnosticListener, as debug mode asks for them (<see cref="RequestEndpoints"/>), counted.</item>
/// </list>
/// </summary>
internal static class BenchHook
{
    public const string Variable = "ASYNCLENS_BENCH_HOOK";

    // Kept alive for the process's life: a listener collected would stop listening.
    private static object? s_running;

    public static void Start(string? part, TextWriter errors)
    {
        Func<string>? said = null;
        var at = part?.IndexOf('@', StringComparison.Ordinal) ?? -1;
        var mask = at >= 0 && part!.AsSpan(at + 1).StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            && long.TryParse(part.AsSpan(at + 3), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var m) ? m : 0;
        switch (at < 0 ? part : part![..at])
        {
            case "request-frames":
                var counts = new long[3];
                s_running = RequestEndpoints.Start((_, _) => Interlocked.Increment(ref counts[2]), (_, _) => { }, (_, _, _) => { }, (_, _, _) => { },
                    (_ => Interlocked.Increment(ref counts[0]), _ => Interlocked.Increment(ref counts[1])));
                said = () => FormattableString.Invariant($"request frames: {counts[0]} begun, {counts[1]} ended, {counts[2]} endpoints matched");
                break;
            case "async-events-ignored" when mask != 0:
                var ignoring = AsyncEventsMode.Start(part!)!;
                s_running = ignoring;
                said = () => AsyncEventsMode.Describe(ignoring);
                break;
            case "async-events-decoded":
                var steps = new EventSteps(TimeSpan.TicksPerSecond, waitForStop: true, _ => { });
                s_running = steps;
                said = () => steps.SourceSeen ? FormattableString.Invariant($"async events (keywords 0x{AsyncEventFormat.StepKeywords:X}) decoded into steps") : "no async events";
                break;
            case "count" when mask != 0:
                var counter = new EventCounter();
                s_running = AsyncEventsListener.Start(counter, (EventKeywords)mask);
                said = () => FormattableString.Invariant($"async events (keywords 0x{mask:X}) by kind: {counter}");
                break;
        }
        if (said is null)
        {
            errors.WriteLine($"asynclens-bench: {Variable}='{part}' is not async-events-ignored@0xMASK, async-events-decoded, count@0xMASK or request-frames");
            return;
        }
        AppDomain.CurrentDomain.ProcessExit += (_, _) => errors.WriteLine("asynclens-bench: " + said());
    }

    /// <summary>Each event kind's count.</summary>
    private sealed class EventCounter : IAsyncEventSink
    {
        private readonly long[] _counts = new long[32];

        public void OnAsyncEvent(in AsyncEventBufferHeader header, in AsyncEvent e, long utcTicks) => Interlocked.Increment(ref _counts[(int)e.Kind & 31]);

        public override string ToString() => string.Join(' ', Enumerable.Range(0, 32).Where(k => _counts[k] > 0)
            .Select(k => FormattableString.Invariant($"{(AsyncEventKind)k}={_counts[k]}"))) + FormattableString.Invariant($" total={_counts.Sum()}");
    }
}
