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

    // Real CPU work for as long as resizing a large image would take (300 ms, whatever the machine's speed).
    private static byte[] Compute(byte[] image)
    {
        var digest = image;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 300)
            digest = SHA256.HashData(digest);
        return digest;
    }

    private static async Task LoadProfileAsync(int userId) => await Task.Delay(10);

    private static async Task SaveAsync(byte[] data) => await Task.Delay(10);
}
