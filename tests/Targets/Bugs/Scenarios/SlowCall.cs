using System.Diagnostics;

namespace Bugs.Scenarios;

public static class SlowCall
{
    public static async Task RunAsync()
    {
        var thumbnail = await ResizeAsync(new byte[64]); // @slowcall.created
        GC.KeepAlive(thumbnail);
    }

    private static async Task<byte[]> ResizeAsync(byte[] image)
    {
        await Task.Yield(); // @slowcall.resumed
        var result = Resize(image); // @slowcall.location
        return result;
    } // @slowcall.stopped

    private static byte[] Resize(byte[] image)
    {
        var clock = Stopwatch.StartNew();
        var acc = 0;
        while (clock.ElapsedMilliseconds < 250)
            acc += image.Length;
        image[0] = (byte)acc;
        return image;
    }
}
