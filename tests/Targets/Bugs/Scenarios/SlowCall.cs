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
        image[0] = (byte)CpuWork.Spin(TimeSpan.FromMilliseconds(250));
        return image;
    }
}
