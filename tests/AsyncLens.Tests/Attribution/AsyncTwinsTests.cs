using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using AsyncLens.Attribution;
using Xunit;

namespace AsyncLens.Tests.Attribution;

/// <summary>An async twin counts only if it takes the same kinds of arguments; twins are found on base interfaces too.</summary>
public sealed class AsyncTwinsTests
{
    [Fact]
    public void A_twin_taking_the_same_arguments_is_the_async_API_to_call()
    {
        var twin = AsyncTwins.Of(typeof(File).GetMethod(nameof(File.ReadAllText), [typeof(string)])!);
        Assert.Equal(TwinKind.SameArguments, twin.Kind);
        Assert.Equal("File.ReadAllTextAsync", twin.Name);
        Assert.Equal(TwinKind.SameArguments, AsyncTwins.Of(typeof(Stream).GetMethod(nameof(Stream.Read), [typeof(Span<byte>)])!).Kind);
        Assert.Equal(TwinKind.SameArguments, AsyncTwins.Of(typeof(SHA256).GetMethod(nameof(SHA256.HashData), [typeof(Stream)])!).Kind);
    }

    [Fact]
    public void Hashing_bytes_has_no_async_twin_only_one_reading_a_stream()
    {
        var twin = AsyncTwins.Of(typeof(SHA256).GetMethod(nameof(SHA256.HashData), [typeof(byte[])])!);
        Assert.Equal(TwinKind.ReadsAStream, twin.Kind);
        Assert.Equal("SHA256.HashDataAsync", twin.Name);
        Assert.Equal(TwinKind.ReadsAStream, AsyncTwins.Of(typeof(SHA256).GetMethod(nameof(SHA256.HashData), [typeof(ReadOnlySpan<byte>)])!).Kind);
    }

    [Fact]
    public void Parsing_a_string_has_no_async_twin()
    {
        var deserialize = typeof(JsonSerializer).GetMethods()
            .First(m => m.Name == nameof(JsonSerializer.Deserialize) && m.IsGenericMethod
                && m.GetParameters() is [{ ParameterType: var p }, { ParameterType: var o }] && p == typeof(string) && o == typeof(JsonSerializerOptions));
        Assert.Equal(TwinKind.None, AsyncTwins.Of(deserialize).Kind);
    }

    [Fact]
    public void A_twin_on_a_base_interface_counts()
    {
        var twin = AsyncTwins.Of(typeof(IStore).GetMethod(nameof(IStore.Get))!);
        Assert.Equal(TwinKind.SameArguments, twin.Kind);
        Assert.Equal("IStore.GetAsync", twin.Name);
    }

    [Fact]
    public void LINQs_operators_have_the_query_providers_extensions_of_IQueryable_as_twins()
    {
        var toList = AsyncTwins.Of(typeof(Enumerable).GetMethod(nameof(Enumerable.ToList))!);
        Assert.Equal(TwinKind.RunsAQuery, toList.Kind);
        Assert.Equal("ShelfQueries.ToListAsync", toList.Name);
        var count = typeof(Queryable).GetMethods().Single(m => m.Name == nameof(Queryable.Count) && m.GetParameters().Length == 2);
        Assert.Equal(new Twin(TwinKind.RunsAQuery, "ShelfQueries.CountAsync"), AsyncTwins.Of(count));
        // No provider has a First with a predicate (nor LINQ's own async operators over IAsyncEnumerable count).
        Assert.Equal(TwinKind.None, AsyncTwins.Of(typeof(Enumerable).GetMethods().First(m => m.Name == nameof(Enumerable.ToArray))).Kind);
    }

    [Fact]
    public void Console_output_and_methods_with_no_twin_have_none()
    {
        Assert.Equal(TwinKind.None, AsyncTwins.Of(typeof(Console).GetMethod(nameof(Console.WriteLine), [typeof(string)])!).Kind);
        Assert.Equal(TwinKind.None, AsyncTwins.Of(typeof(Thread).GetMethod(nameof(Thread.Sleep), [typeof(int)])!).Kind);
        Assert.Equal(TwinKind.None, AsyncTwins.Of(typeof(File).GetMethod(nameof(File.ReadAllTextAsync), [typeof(string), typeof(CancellationToken)])!).Kind);
    }

    [Fact]
    public void Kinds_match_spans_with_memories_and_generic_parameters_by_position()
    {
        Assert.Equal(AsyncTwins.Kind(typeof(Span<byte>)), AsyncTwins.Kind(typeof(Memory<byte>)));
        Assert.NotEqual(AsyncTwins.Kind(typeof(Span<byte>)), AsyncTwins.Kind(typeof(ReadOnlyMemory<byte>)));
        var generic = typeof(AsyncTwinsTests).GetMethod(nameof(Generic), BindingFlags.NonPublic | BindingFlags.Static)!.GetParameters();
        Assert.Equal("!!0", AsyncTwins.Kind(generic[0].ParameterType));
        Assert.Equal("System.Nullable`1<System.Int32>", AsyncTwins.Kind(generic[1].ParameterType));
    }

    private static void Generic<T>(T value, int? count) => GC.KeepAlive(value);
}
