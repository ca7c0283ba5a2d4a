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

    // A fixed amount of real CPU work, as resizing an image would be (a few hundred ms on a laptop core).
    private static byte[] Compute(byte[] image)
    {
        var digest = image;
        for (var i = 0; i < 150_000; i++)
            digest = SHA256.HashData(digest);
        return digest;
    }

    private static async Task LoadProfileAsync(int userId) => await Task.Delay(10);

    private static async Task SaveAsync(byte[] data) => await Task.Delay(10);
}
