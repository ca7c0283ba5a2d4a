using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Globalization;
using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Bench;

/// <summary>
/// The decoding of .NET 11's async events alone, without the runtime's cost of writing them: buffers of the await loop
/// recorded first (<c>AsyncProfilerEventSource</c>, every keyword, the runtime's 16 KB buffers), then decoded over and
/// over on one thread as the listener decodes what the runtime delivers: by the reader alone (<c>reader</c>), into
/// method steps (<c>async-events</c>: the assembler and a sink that counts them) or into debug mode's sink on the async
/// events alone (<c>events-only</c>: <see cref="EventSteps"/>, each context's stack remembered). Each pass decodes every
/// recorded buffer; the best and the median pass give ns per event. On a noisy machine the best pass is the figure to
/// compare: the work is the same each pass, and only other processes make a pass slower.
/// </summary>
internal static class DecodeBenchmark
{
    private const int Buffers = 40;
    private const int FullBuffer = 8 * 1024;

    public static bool Handles(string mode) => mode is "reader" or "async-events" or "events-only";

    public static async Task<string> RunAsync(string mode, int passes)
    {
        // Debug mode's own keywords for its mode (fewer events per await), every keyword for the others.
        var buffers = await RecordAsync(mode == "events-only" ? AsyncEventFormat.StepKeywords : AsyncEventFormat.AllKeywords);
        long events = 0;
        foreach (var buffer in buffers)
        {
            var reader = new AsyncEventReader(buffer, AsyncEventManifest.Shipped);
            while (reader.Next(out _))
                events++;
        }
        var (pass, done) = Decoder(mode, buffers);
        var perEvent = new List<double>(passes);
        for (var i = 0; i < passes + passes / 10; i++)
        {
            var watch = Stopwatch.StartNew();
            pass();
            // The first tenth warms the JIT up to its final tier.
            if (i >= passes / 10)
                perEvent.Add(watch.Elapsed.TotalNanoseconds / events);
        }
        done();
        return string.Create(CultureInfo.InvariantCulture,
            $"best_ns_per_event={perEvent.Min():F2} median_ns_per_event={Stats.Median(perEvent):F2} passes={passes} buffers={buffers.Count} events={events}");
    }

    private static (Action Pass, Action Done) Decoder(string mode, List<byte[]> buffers)
    {
        switch (mode)
        {
            case "reader":
                return (() =>
                {
                    foreach (var buffer in buffers)
                    {
                        var reader = new AsyncEventReader(buffer, AsyncEventManifest.Shipped);
                        while (reader.Next(out _))
                        {
                        }
                    }
                }, () => { });
            case "async-events":
                // No keyword: the listener decodes what it is given, the source stays off.
                var listener = AsyncEventsListener.Start(new AsyncStepAssembler(new Steps()), 0);
                return (() => buffers.ForEach(b => listener.Decode(b)), listener.Dispose);
            default:
                var steps = new EventSteps(TimeSpan.TicksPerSecond, waitForStop: true, _ => { });
                return (() => buffers.ForEach(b => steps.Decode(b)), steps.Dispose);
        }
    }

    private static async Task<List<byte[]>> RecordAsync(long keywords)
    {
        var recorded = new List<byte[]>();
        Recorder.Keywords = keywords;
        using (var recorder = new Recorder(recorded))
        {
            var watch = Stopwatch.StartNew();
            while (Count(recorded) < Buffers)
            {
                // The runtime creates the source once async code runs: it is looked for after the first awaits.
                for (var i = 0; i < 1_000; i++)
                    await Mid();
                if (!recorder.SourceSeen || watch.Elapsed > TimeSpan.FromSeconds(60))
                    throw new InvalidOperationException($"{AsyncEventFormat.SourceName}: {Count(recorded)} full buffers recorded (this runtime: {Environment.Version})");
            }
        }
        lock (recorded)
            return recorded.Where(b => b.Length >= FullBuffer).Take(Buffers).ToList();
    }

    private static int Count(List<byte[]> recorded)
    {
        lock (recorded)
            return recorded.Count(b => b.Length >= FullBuffer);
    }

    private static async Task Mid() => await Leaf();

    private static async Task Leaf() => await Task.Yield();

    private sealed class Steps : IAsyncStepSink
    {
        public long Count;

        public void OnStep(in AsyncStep step) => Count++;

        public void OnContextCreated(ulong osThreadId, ulong parent, ulong context, long at)
        {
        }
    }

    private sealed class Recorder(List<byte[]> into) : EventListener
    {
        // Static: OnEventSourceCreated may run from the base constructor, before this class's fields are set.
        public static long Keywords { get; set; } = AsyncEventFormat.AllKeywords;

        public bool SourceSeen;

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name != AsyncEventFormat.SourceName)
                return;
            SourceSeen = true;
            EnableEvents(eventSource, EventLevel.Informational, (EventKeywords)Keywords);
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventId == AsyncEventFormat.AsyncEventsId && e.Payload is { Count: >= 1 } payload && payload[0] is byte[] buffer)
            {
                lock (into)
                    into.Add(buffer);
            }
        }
    }
}
