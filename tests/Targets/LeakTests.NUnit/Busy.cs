using NUnit.Framework;

namespace Samples;

// 195 healthy tests running in parallel with the leaking ones (Orders): none of their work may be blamed on another test.
[Parallelizable(ParallelScope.All)]
public sealed class Busy
{
    private static IEnumerable<int> Cases() => Enumerable.Range(0, 195);

    [TestCaseSource(nameof(Cases))]
    public async Task Awaits_everything_it_starts(int n)
    {
        await Healthy.WorkAsync(n);
    }
}
