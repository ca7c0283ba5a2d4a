using System.Collections.Immutable;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using AsyncLens.Cli.Remote;
using AsyncLens.Testing;
using Microsoft.Diagnostics.Runtime;
using Xunit;

namespace AsyncLens.Cli.Tests.Remote;

/// <summary>
/// A code address to its IL offset and line (<see cref="RemoteSymbols.ILOffsetAt(ImmutableArray{ILToNativeMap}, ulong)"/>):
/// the runtime's native map gives each IL offset a range that ends where the next starts; an address that starts a range
/// is that range's. Read on the real PDB of ShopApi's Debug build, whose spinning loop was read at the line above it.
/// </summary>
public sealed class CodeAddressLinesTests
{
    private static ILToNativeMap Range(int ilOffset, ulong start, ulong end) => new() { ILOffset = ilOffset, StartAddress = start, EndAddress = end };

    [Fact]
    public void An_address_that_starts_a_range_is_that_range_s_and_one_past_the_last_is_no_one_s()
    {
        ImmutableArray<ILToNativeMap> map = [Range(-2, 0x100, 0x110), Range(0x05, 0x110, 0x120), Range(0x09, 0x120, 0x130), Range(-3, 0x130, 0x134)];

        Assert.Equal(-2, RemoteSymbols.ILOffsetAt(map, 0x100));
        Assert.Equal(0x05, RemoteSymbols.ILOffsetAt(map, 0x11F));
        Assert.Equal(0x09, RemoteSymbols.ILOffsetAt(map, 0x120));
        Assert.Equal(-3, RemoteSymbols.ILOffsetAt(map, 0x130));
        Assert.Null(RemoteSymbols.ILOffsetAt(map, 0x134));
        Assert.Null(RemoteSymbols.ILOffsetAt(default(ImmutableArray<ILToNativeMap>), 0x120));
    }

    [Fact]
    public void A_thread_at_a_loop_s_head_is_on_the_loop_s_body_and_one_at_its_backward_branch_on_its_condition()
    {
        // SpinAsync's loop as the C# compiler lays it out in Debug: `var x = 0.0;`, a hidden jump to the condition, the
        // body, the condition, a hidden branch back to the body. The JIT gives each sequence point's code one range, in
        // IL order, each ending where the next starts (the ranges of a real map, without their sizes).
        var dll = Repo.Program("ShopApi", "Debug");
        var (token, points) = MoveNextPoints(dll, "<SpinAsync>");
        var map = points.Select((p, i) => Range(p.Offset, Address(p.Offset), i + 1 < points.Count ? Address(points[i + 1].Offset) : Address(p.Offset) + 8)).ToImmutableArray();
        var markers = new SourceMarkers(Repo.Source("tests", "RealApps", "ShopApi"));
        var body = points.FindIndex(p => !p.IsHidden && p.StartLine == markers.Line("shop.spin.body"));
        var condition = points.FindIndex(p => !p.IsHidden && p.StartLine == markers.Line("shop.spin.loop"));
        Assert.True(body > 0 && points[body - 1].IsHidden && condition == body + 1 && points[condition + 1].IsHidden, "the loop's layout changed: " + string.Join(", ", points.Select(p => p.IsHidden ? $"{p.Offset:X}:hidden" : $"{p.Offset:X}:{p.StartLine}")));

        string? LineAt(ulong address) => RemoteSymbols.LineAt(dll, token, RemoteSymbols.ILOffsetAt(map, address) ?? -1) is { } line ? $"{line.File}:{line.Line}" : null;

        string at(string tag) => $"{markers[tag].File}:{markers.Line(tag)}";
        Assert.Equal(at("shop.spin.body"), LineAt(Address(points[body].Offset)));
        Assert.Equal(at("shop.spin.body"), LineAt(Address(points[condition].Offset) - 1));
        Assert.Equal(at("shop.spin.loop"), LineAt(Address(points[condition].Offset)));
        Assert.Equal(at("shop.spin.loop"), LineAt(Address(points[condition + 1].Offset)));
    }

    private static ulong Address(int ilOffset) => 0x7F00_0000_1000UL + (ulong)ilOffset * 4;

    // The MoveNext of the state machine whose name starts with `prefix`: its token and its sequence points, in IL order.
    private static (int Token, List<SequencePoint> Points) MoveNextPoints(string dll, string prefix)
    {
        using var pe = new PEReader(File.OpenRead(dll));
        var metadata = pe.GetMetadataReader();
        using var pdb = MetadataReaderProvider.FromPortablePdbStream(File.OpenRead(Path.ChangeExtension(dll, ".pdb")));
        var symbols = pdb.GetMetadataReader();
        foreach (var typeHandle in metadata.TypeDefinitions)
        {
            var type = metadata.GetTypeDefinition(typeHandle);
            if (!metadata.GetString(type.Name).StartsWith(prefix, StringComparison.Ordinal))
                continue;
            var moveNext = type.GetMethods().Single(m => metadata.GetString(metadata.GetMethodDefinition(m).Name) == "MoveNext");
            var points = symbols.GetMethodDebugInformation(moveNext.ToDebugInformationHandle()).GetSequencePoints().ToList();
            return (MetadataTokens.GetToken(moveNext), points);
        }
        throw new InvalidOperationException($"no {prefix} state machine in {dll}");
    }
}
