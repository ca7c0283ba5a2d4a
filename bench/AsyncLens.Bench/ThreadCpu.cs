using System.Globalization;

namespace AsyncLens.Bench;

/// <summary>
/// The CPU time of this process's threads by name (the kernel's, /proc/self/task: utime + stime in clock ticks), so
/// that a run says where its CPU went: the app's pool workers, the JIT's tiering thread, the GC's, AsyncLens's own.
/// </summary>
internal static class ThreadCpu
{
    private const double MsPerTick = 10; // USER_HZ is 100 on Linux

    /// <summary>Clock ticks by thread id, with the thread's name.</summary>
    public static Dictionary<int, (string Name, long Ticks)> Read()
    {
        var threads = new Dictionary<int, (string, long)>();
        if (!OperatingSystem.IsLinux())
            return threads;
        foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var open = stat.IndexOf('(');
                var close = stat.LastIndexOf(')');
                var fields = stat[(close + 2)..].Split(' ');
                threads[int.Parse(Path.GetFileName(dir), CultureInfo.InvariantCulture)] =
                    (stat[(open + 1)..close], long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture));
            }
            catch (Exception ex) when (ex is IOException or FormatException or ArgumentOutOfRangeException)
            {
                // It ended meanwhile.
            }
        }
        return threads;
    }

    /// <summary>"name=ms ..." of the CPU each group of same-named threads spent since <paramref name="before"/>, most first.</summary>
    public static string Since(Dictionary<int, (string Name, long Ticks)> before) => string.Join(' ', Read()
        .Select(t => (t.Value.Name, Ticks: t.Value.Ticks - (before.TryGetValue(t.Key, out var b) && b.Name == t.Value.Name ? b.Ticks : 0)))
        .GroupBy(t => t.Name, t => t.Ticks)
        .Select(g => (Name: g.Key, Ms: g.Sum() * MsPerTick))
        .Where(g => g.Ms > 0)
        .OrderByDescending(g => g.Ms)
        .Select(g => string.Create(CultureInfo.InvariantCulture, $"'{g.Name}'={g.Ms:F0}")));
}
