using System.Runtime.InteropServices;
using AsyncLens.Tracking;

namespace AsyncLens.Hosting;

/// <summary>
/// <c>kill -USR1 &lt;pid&gt;</c>: writes every pending task (async stacks by default) while the app keeps
/// running, like the asyncio chapter's SIGUSR1 handler. The dump is taken on a thread of its own and written
/// in one piece; the app's threads wait only while the runtime's registry is copied.
/// </summary>
internal static class DumpSignal
{
    private const int SigUsr1 = 10;

    private static readonly object s_gate = new();
    private static PosixSignalRegistration? s_registration;
    private static TextWriter s_output = TextWriter.Null;
    private static TaskDumpFormat s_format;
    private static int s_dumping;

    public static void Install(TextWriter output, TaskDumpFormat format)
    {
        lock (s_gate)
        {
            s_output = output;
            s_format = format;
            if (s_registration is not null || OperatingSystem.IsWindows())
                return;
            try
            {
                s_registration = PosixSignalRegistration.Create((PosixSignal)SigUsr1, OnSignal);
            }
            catch (Exception ex) when (ex is PlatformNotSupportedException or IOException or ArgumentOutOfRangeException)
            {
                // No signals here (or SIGUSR1 taken): the API still dumps.
            }
        }
    }

    public static void Remove()
    {
        lock (s_gate)
        {
            s_registration?.Dispose();
            s_registration = null;
        }
    }

    private static void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // SIGUSR1's default action is to terminate the process
        if (Interlocked.Exchange(ref s_dumping, 1) != 0)
            return; // one dump at a time; signals that arrive meanwhile are folded into it
        new Thread(Dump) { IsBackground = true, Name = "AsyncLens dump" }.Start();
    }

    private static void Dump()
    {
        ThreadTracker.IsEngineThread = true;
        try
        {
            TextWriter output;
            TaskDumpFormat format;
            lock (s_gate)
                (output, format) = (s_output, s_format);
            var text = new StringWriter();
            AsyncDebug.Inventory().Write(text, format);
            output.Write(text.ToString());
            output.Flush();
        }
        catch (Exception ex)
        {
            try
            {
                Console.Error.WriteLine($"asynclens: the task dump failed ({ex.GetType().Name}: {ex.Message}); the app is unaffected");
            }
            catch (IOException)
            {
            }
        }
        finally
        {
            Volatile.Write(ref s_dumping, 0);
        }
    }
}
