using System.Security.Cryptography;

namespace ChapterBugs;

public sealed record Request(int UserId, byte[] Image);

/// <summary>Bug 1 (slow step): CPU-bound work on the async path holds the thread between two awaits.</summary>
public static class Thumbnails
{
    public static async Task<byte[]> HandleAsync(Request request)
    {
        await LoadProfileAsync(request.UserId);
        var thumbnail = Compute(request.Image);
        await SaveAsync(thumbnail);
        return thumbnail;
    }

    // Real CPU work for as long as resizing a large image would take: 300 ms of processor time, whatever the machine's
    // speed or how busy it is (time spent waiting for a CPU is not the step's doing, and debug mode does not count it).
    private static byte[] Compute(byte[] image)
    {
        var digest = image;
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        var until = process.TotalProcessorTime + TimeSpan.FromMilliseconds(300);
        while (process.TotalProcessorTime < until)
        {
            for (var i = 0; i < 1000; i++)
                digest = SHA256.HashData(digest);
        }
        return digest;
    }

    private static async Task LoadProfileAsync(int userId) => await Task.Delay(10);

    private static async Task SaveAsync(byte[] data) => await Task.Delay(10);
}
