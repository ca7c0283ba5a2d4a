using NUnit.Framework;

#if DETECT
[assembly: AsyncLens.Testing.DetectAsyncLeaks]
#endif
[assembly: LevelOfParallelism(8)]

namespace Samples;

[Parallelizable(ParallelScope.All)]
public sealed class HealthyTests
{
    private static IEnumerable<int> Cases() => Enumerable.Range(0, 1000);

    [TestCaseSource(nameof(Cases))]
    public async Task Awaits_everything_it_starts(int n)
    {
        await Healthy.WorkAsync(n);
    }
}
