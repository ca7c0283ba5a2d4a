using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using AsyncLens.Cli.Remote;
using AsyncLens.Inventory;
using AsyncLens.Reporting.Dumps;

namespace AsyncLens.Cli.Commands;

/// <summary>
/// <c>asynclens threads &lt;pid&gt;</c>: every managed thread's stack (like <c>py-spy dump</c>) and, for a thread
/// running a step of an async method, that method and what awaits it: what is holding the thread pool right now.
/// </summary>
internal static class ThreadsCommand
{
    public static Command Create()
    {
        var options = new InspectOptions("text", "json");
        return options.Create("threads",
            "Print every managed thread's stack of a running .NET process (or of a core dump), with lines, and for a thread running an async step, which async method and its async stack.",
            (parse, target, symbols) =>
            {
                ThreadRead threads;
                TaskGraph graph;
                HeapTasks reader;
                try
                {
                    (graph, reader) = InspectOptions.ReadTasks(target, symbols);
                    threads = ThreadStacks.Read(target.Runtime, symbols, reader);
                    target.CheckStillReadable();
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    throw target.Failed(ex);
                }
                var figures = target.Figures;
                target.Dispose();
                var now = target.TakenAt;
                if (options.FormatOf(parse) == "json")
                    WriteJson(Console.Out, target.ProcessId, now, threads);
                else
                    WriteText(Console.Out, target.ProcessId, now, threads);
                Console.Out.Flush();
                options.WriteStats(parse, target, reader, graph, figures);
                return 0;
            });
    }

    public static void WriteText(TextWriter writer, int pid, DateTimeOffset now, ThreadRead read)
    {
        var threads = read.Threads;
        var busy = threads.Count(t => t.AsyncStep is not null);
        var ours = read.AsyncLensThreads > 0 ? string.Create(CultureInfo.InvariantCulture, $", {read.AsyncLensThreads} of AsyncLens's own not shown") : "";
        writer.Write(string.Create(CultureInfo.InvariantCulture,
            $"asynclens: {threads.Count} managed thread{(threads.Count == 1 ? "" : "s")}, {busy} running an async step{ours} (pid {pid}, {now.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ})\n"));
        foreach (var thread in threads)
        {
            writer.Write("\n");
            var title = string.Create(CultureInfo.InvariantCulture, $"Thread {thread.ManagedId} (os {thread.OsId}{(thread.IsFinalizer ? ", finalizer" : "")})");
            if (thread.AsyncStep is { } step)
                title += ": running a step of " + step.Description?.Title;
            else if (thread.InNativeCode)
                title += ": in native code (its callers found on its stack)";
            writer.Write(title + "\n");
            if (thread.Frames.Count == 0)
                writer.Write("    (no managed frames)\n");
            foreach (var frame in ThreadStacks.ForPeople(thread.Frames))
                writer.Write("    " + frame + "\n");
            if (thread.AsyncStep is { } running && TaskGraph.AwaitedByChain(running) is { Count: > 0 } chain)
            {
                writer.Write("  awaited by:\n");
                foreach (var node in chain)
                    writer.Write("    " + NodeTexts.Of(node) + "\n");
            }
        }
    }

    public static void WriteJson(TextWriter writer, int pid, DateTimeOffset now, ThreadRead read)
    {
        var threads = read.Threads;
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("pid", pid);
            w.WriteString("timestamp", now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            w.WriteNumber("asyncLensThreads", read.AsyncLensThreads);
            w.WriteStartArray("threads");
            foreach (var thread in threads)
            {
                w.WriteStartObject();
                w.WriteNumber("managedId", thread.ManagedId);
                w.WriteNumber("osId", thread.OsId);
                w.WriteBoolean("finalizer", thread.IsFinalizer);
                w.WriteBoolean("inNativeCode", thread.InNativeCode);
                w.WriteStartArray("frames");
                foreach (var frame in ThreadStacks.ForPeople(thread.Frames))
                    Frame(w, frame.Method, frame.At, frame.Native);
                w.WriteEndArray();
                if (thread.AsyncStep is { } step)
                {
                    w.WriteStartObject("asyncStep");
                    w.WriteNumber("taskId", step.Id);
                    w.WriteString("method", step.Description?.Title);
                    w.WriteStartArray("awaitedBy");
                    foreach (var node in TaskGraph.AwaitedByChain(step))
                    {
                        var text = NodeTexts.Of(node);
                        Frame(w, text.Title, text.At);
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                else
                {
                    w.WriteNull("asyncStep");
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        writer.Write(System.Text.Encoding.UTF8.GetString(stream.ToArray()) + "\n");
    }

    private static void Frame(Utf8JsonWriter w, string method, SourceLine? at, bool native = false)
    {
        w.WriteStartObject();
        w.WriteString("method", method);
        JsonTaskDump.Location(w, at);
        if (native)
            w.WriteBoolean("native", true);
        w.WriteEndObject();
    }
}
