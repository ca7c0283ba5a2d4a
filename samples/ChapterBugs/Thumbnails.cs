using System.Diagnostics;
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

    // About 300 ms of hashing: real CPU work, as resizing an image would be.
    private static byte[] Compute(byte[] image)
    {
        var clock = Stopwatch.StartNew();
        var digest = image;
        while (clock.ElapsedMilliseconds < 300)
            digest = SHA256.HashData(digest);
        return digest;
    }

    private static async Task LoadProfileAsync(int userId) => await Task.Delay(10);

    private static async Task SaveAsync(byte[] data) => await Task.Delay(10);
}
