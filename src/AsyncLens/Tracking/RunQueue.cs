using System.Globalization;
using System.Runtime.InteropServices;

namespace AsyncLens.Tracking;

/// <summary>
/// How long a thread has waited for a CPU while runnable (Linux schedstat, "run_delay"). A step that was
/// preempted on a busy machine did not hold its thread by its own doing; this time is taken off its duration.
/// A read costs ~15 µs, so it happens only for steps the watchdog sees still running, and on the slow path.
/// </summary>
internal static class RunQueue
{
    public const long Unavailable = -1;

    /// <summary>A frame's baseline before the watchdog has looked at it.</summary>
    public const long NotSampled = long.MinValue;

    private static readonly bool s_supported = OperatingSystem.IsLinux() && File.Exists("/proc/thread-self/schedstat");

    /// <summary>The OS id of the calling thread, or 0 where there is none to read.</summary>
    public static int CurrentOsThreadId()
    {
        if (!s_supported)
            return 0;
        try
        {
            return GetTid();
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return 0;
        }
    }

    /// <summary>Total run-queue delay of the thread, in <see cref="TimeSpan"/> ticks, or <see cref="Unavailable"/>.</summary>
    public static long Delay(int osThreadId)
    {
        if (osThreadId == 0)
            return Unavailable;
        Span<byte> buffer = stackalloc byte[96];
        try
        {
            using var handle = File.OpenHandle($"/proc/self/task/{osThreadId}/schedstat");
            var read = RandomAccess.Read(handle, buffer, 0);
            // "<cpu time ns> <run delay ns> <timeslices>"
            var text = buffer[..read];
            var first = text.IndexOf((byte)' ');
            if (first < 0)
                return Unavailable;
            var rest = text[(first + 1)..];
            var second = rest.IndexOf((byte)' ');
            var number = second < 0 ? rest : rest[..second];
            return long.TryParse(System.Text.Encoding.ASCII.GetString(number), NumberStyles.None, CultureInfo.InvariantCulture, out var ns)
                ? ns / 100
                : Unavailable;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Unavailable; // the thread exited
        }
    }

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetTid();
}
