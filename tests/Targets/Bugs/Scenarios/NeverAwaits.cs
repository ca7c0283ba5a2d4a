namespace Bugs.Scenarios;

/// <summary>
/// The chapter's slow callback as C# would have it: an async handler with nothing to await, doing 250 ms of CPU
/// work. It completes without ever yielding, so it has no task of its own and raises no event.
/// </summary>
public static class NeverAwaits
{
    public static async Task RunAsync()
    {
        await Task.Yield();
        var thumbnail = await HandleAsync(new byte[64]); // @neverawaits.created
        GC.KeepAlive(thumbnail);
    }

#pragma warning disable CS1998 // the point: async, and nothing in it awaits
    private static async Task<byte[]> HandleAsync(byte[] image)
    { // @neverawaits.started
        var thumbnail = ComputeThumbnail(image); // @neverawaits.location
        return thumbnail;
    } // @neverawaits.stopped
#pragma warning restore CS1998

    private static byte[] ComputeThumbnail(byte[] image)
    {
        image[0] = (byte)CpuWork.Spin(TimeSpan.FromMilliseconds(250));
        return image;
    }
}
