using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace AsyncLens.Tracking;

/// <summary>
/// How long a thread has waited for a CPU while runnable (Linux schedstat, "run_delay"), and how long it has run on
/// one. A step that was preempted on a busy machine did not hold its thread by its own doing; this time is taken off
/// its duration. Its time on a CPU tells computing from being blocked (see <see cref="Attribution.TimeSplit"/>).
/// A thread reads its own figure through a handle it keeps open (~1 µs a read); another thread's costs an
/// open (~15 µs) and is read only for long steps.
/// </summary>
internal static class RunQueue
{
    public const long Unavailable = -1;

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

    /// <summary>A handle on the calling thread's own schedstat, or null where there is none.</summary>
    public static SafeFileHandle? OpenOwn()
    {
        if (!s_supported)
            return null;
        try
        {
            return File.OpenHandle("/proc/thread-self/schedstat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Time another thread has run on a CPU and waited for one (see <see cref="ReadBoth"/>); its switches are not read.</summary>
    public static SchedTimes Times(int osThreadId)
    {
        using var handle = OpenThread(osThreadId);
        if (handle is null)
            return SchedTimes.Unavailable;
        var (onCpu, waited) = ReadBoth(handle);
        return new SchedTimes(onCpu, waited, Unavailable);
    }

    /// <summary>A handle on another thread's schedstat (<see cref="ReadBoth"/> reads it), or null if it exited or there is none.</summary>
    public static SafeFileHandle? OpenThread(int osThreadId)
    {
        if (osThreadId == 0)
            return null;
        try
        {
            return File.OpenHandle($"/proc/self/task/{osThreadId}/schedstat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null; // the thread exited
        }
    }

    /// <summary>
    /// Time the thread has run on a CPU and time it has waited for one, read through <paramref name="handle"/>, in
    /// <see cref="TimeSpan"/> ticks (<see cref="Unavailable"/> where unknown).
    /// </summary>
    public static (long OnCpu, long Waited) ReadBoth(SafeFileHandle handle)
    {
        Span<byte> buffer = stackalloc byte[96];
        try
        {
            var read = RandomAccess.Read(handle, buffer, 0);
            // "<cpu time ns> <run delay ns> <timeslices>"
            var text = buffer[..read];
            var first = text.IndexOf((byte)' ');
            if (first < 0)
                return (Unavailable, Unavailable);
            var rest = text[(first + 1)..];
            var second = rest.IndexOf((byte)' ');
            return (Ticks(text[..first]), Ticks(second < 0 ? rest : rest[..second]));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (Unavailable, Unavailable); // the thread exited
        }
    }

    /// <summary>
    /// How many times the calling thread gave up its CPU of its own accord (to sleep, wait for I/O or a lock:
    /// getrusage's voluntary context switches), or <see cref="Unavailable"/>. Time a thread spent neither on a CPU nor
    /// waiting for one, without ever giving its CPU up, was taken from it (a hypervisor's steal, CPU throttling): it
    /// was not blocked.
    /// </summary>
    public static long VoluntarySwitches()
    {
        if (!s_supported)
            return Unavailable;
        try
        {
            var usage = default(Rusage);
            return GetRusage(RusageThread, ref usage) == 0 ? usage[VoluntarySwitchesIndex] : Unavailable;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            return Unavailable;
        }
    }

    // struct rusage on 64-bit Linux: two timevals (4 longs), then 14 longs; ru_nvcsw is the 13th of those.
    private const int RusageThread = 1;
    private const int VoluntarySwitchesIndex = 16;

    [InlineArray(18)]
    private struct Rusage
    {
        private long _first;
    }

    [DllImport("libc", EntryPoint = "getrusage")]
    private static extern int GetRusage(int who, ref Rusage usage);

    private static long Ticks(ReadOnlySpan<byte> nanoseconds) =>
        long.TryParse(System.Text.Encoding.ASCII.GetString(nanoseconds), NumberStyles.None, CultureInfo.InvariantCulture, out var ns) ? ns / 100 : Unavailable;

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetTid();
}

/// <summary>A thread's scheduler figures at a moment, in <see cref="TimeSpan"/> ticks (each <see cref="RunQueue.Unavailable"/> where unknown).</summary>
/// <param name="OnCpu">Time it has run on a CPU.</param>
/// <param name="Waited">Time it has waited for one while runnable.</param>
/// <param name="Switches">Times it gave its CPU up of its own accord (see <see cref="RunQueue.VoluntarySwitches"/>).</param>
internal readonly record struct SchedTimes(long OnCpu, long Waited, long Switches)
{
    public static readonly SchedTimes Unavailable = new(RunQueue.Unavailable, RunQueue.Unavailable, RunQueue.Unavailable);
}
