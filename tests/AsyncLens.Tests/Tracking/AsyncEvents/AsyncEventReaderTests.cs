using System.Numerics;
using Xunit;
using AsyncLens.Tracking.AsyncEvents;

namespace AsyncLens.Tests.Tracking.AsyncEvents;

/// <summary>The reader over hand-built buffers: what a recording does not show (boundaries, kinds and versions it does not know, damage).</summary>
public sealed class AsyncEventReaderTests
{
    private static readonly byte[] s_dispatcher7 = [7];

    [Fact]
    public void TimesAccumulateFromTheHeadersStartAndIdsKeepAllSixtyFourBits()
    {
        var buffer = new BufferBuilder(start: 5_000)
            .Event(AsyncEventKind.CreateStateMachineAsyncContext, 5_000, [.. BufferBuilder.Unsigned(0), .. BufferBuilder.Unsigned(ulong.MaxValue)])
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, 5_000 + (1L << 40), BufferBuilder.Unsigned(ulong.MaxValue))
            .Event(AsyncEventKind.SuspendStateMachineAsyncContext, 5_001 + (1L << 40))
            .Build();

        var (header, events, error) = Recorded.Decode(buffer);

        Assert.Equal(AsyncEventBufferError.None, error);
        Assert.Equal(42UL, header.OsThreadId);
        Assert.Equal([5_000, 5_000 + (1L << 40), 5_001 + (1L << 40)], events.Select(e => e.Timestamp));
        Assert.Equal([ulong.MaxValue, ulong.MaxValue, 0UL], events.Select(e => e.DispatcherId));
    }

    [Fact]
    public void StackFramesFollowDeltasBothWaysWithTheirStates()
    {
        byte[] stack = [0, 0, 3, .. BufferBuilder.Unsigned(9), // flags, continuation index, 3 frames, dispatcher 9
            .. BufferBuilder.Unsigned(0x7F00_0000_1000), .. BufferBuilder.Signed(-2),
            .. BufferBuilder.Signed(-0x800), .. BufferBuilder.Signed(0),
            .. BufferBuilder.Signed(0x10_0000), .. BufferBuilder.Signed(int.MaxValue)];
        var buffer = new BufferBuilder().Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, 1_000, stack).Build();

        var e = Assert.Single(Recorded.Decode(buffer).Events);

        Assert.Equal(9UL, e.DispatcherId);
        Assert.Equal([(0x7F00_0000_1000UL, -2), (0x7F00_0000_0800UL, 0), (0x7F00_0010_0800UL, int.MaxValue)], e.Frames);
    }

    [Fact]
    public void ARuntimeAsyncCreateStackCarriesItsParentAndFramesWithoutStates()
    {
        byte[] stack = [0, 5, 2, .. BufferBuilder.Unsigned(3), .. BufferBuilder.Unsigned(4), .. BufferBuilder.Unsigned(0x1000), .. BufferBuilder.Signed(16)];
        var buffer = new BufferBuilder().Event(AsyncEventKind.CreateRuntimeAsyncCallstack, 1_000, stack).Build();

        var e = Assert.Single(Recorded.Decode(buffer).Events);

        Assert.Equal((3UL, 4UL), (e.ParentDispatcherId, e.DispatcherId));
        Assert.Equal([(0x1000UL, -1), (0x1010UL, -1)], e.Frames);
    }

    [Fact]
    public void StackFramesStopWhereTheDataEndsBeforeTheCount()
    {
        byte[] stack = [0, 0, 200, .. BufferBuilder.Unsigned(1), .. BufferBuilder.Unsigned(0x1000), .. BufferBuilder.Signed(0)];
        var buffer = new BufferBuilder().Event(AsyncEventKind.ResumeStateMachineAsyncCallstack, 1_000, stack).Build();

        var e = Assert.Single(Recorded.Decode(buffer).Events);

        Assert.Equal(200, e.FrameCount);
        Assert.Equal([(0x1000UL, 0)], e.Frames);
    }

    [Fact]
    public void AKindTheManifestListsButTheReaderDoesNotKnowIsSteppedOver()
    {
        var manifest = ManifestWith((40, 1, PayloadLengthField.UShort));
        var buffer = new BufferBuilder()
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, 1_000, s_dispatcher7)
            .Event(40, 1_010, PayloadLengthField.UShort, new byte[300])
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, 1_020)
            .Build();

        var reader = new AsyncEventReader(buffer, manifest);
        var kinds = new List<(AsyncEventKind, long)>();
        while (reader.Next(out var e))
            kinds.Add((e.Kind, e.Timestamp));

        Assert.Equal([(AsyncEventKind.ResumeStateMachineAsyncContext, 1_000L), (AsyncEventKind.CompleteStateMachineAsyncContext, 1_020L)], kinds);
        Assert.Equal(1, reader.Skipped);
        Assert.Equal(AsyncEventBufferError.None, reader.Error);
    }

    [Fact]
    public void AKnownKindAtAnotherVersionIsSteppedOverNotMisread()
    {
        var manifest = ManifestWith((12, 2, PayloadLengthField.UShort), (14, 1, PayloadLengthField.None));
        var buffer = new BufferBuilder()
            .Event(12, 1_000, PayloadLengthField.UShort, 1, 2, 3, 4)
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, 1_020)
            .Build();

        var reader = new AsyncEventReader(buffer, manifest);
        Assert.True(reader.Next(out var e));
        Assert.Equal(AsyncEventKind.CompleteStateMachineAsyncContext, e.Kind);
        Assert.False(reader.Next(out _));
        Assert.Equal(1, reader.Skipped);
    }

    [Fact]
    public void AKindNoManifestListsEndsTheBufferAfterTheEventsBeforeIt()
    {
        var buffer = new BufferBuilder()
            .Event(AsyncEventKind.ResumeStateMachineAsyncContext, 1_000, s_dispatcher7)
            .Event(99, 1_010, PayloadLengthField.Byte, 1)
            .Event(AsyncEventKind.CompleteStateMachineAsyncContext, 1_020)
            .Build();

        var reader = new AsyncEventReader(buffer, AsyncEventManifest.Shipped);
        Assert.True(reader.Next(out var e));
        Assert.Equal(7UL, e.DispatcherId);
        Assert.False(reader.Next(out _));
        Assert.Equal(AsyncEventBufferError.UnknownEvent, reader.Error);
    }

    [Fact]
    public void AnotherBufferVersionIsNotRead()
    {
        var buffer = new BufferBuilder().Version(2).Event(AsyncEventKind.CompleteStateMachineAsyncContext, 1_000).Build();

        var (_, events, error) = Recorded.Decode(buffer);

        Assert.Empty(events);
        Assert.Equal(AsyncEventBufferError.UnknownVersion, error);
    }

    [Fact]
    public void ABufferShorterThanItsHeaderOrItsClaimedLengthIsTruncated()
    {
        var whole = new BufferBuilder().Event(AsyncEventKind.CompleteStateMachineAsyncContext, 1_000).Build();

        Assert.Equal(AsyncEventBufferError.Truncated, Recorded.Decode(whole[..20]).Error);
        Assert.Equal(AsyncEventBufferError.Truncated, Recorded.Decode(new BufferBuilder().Build(claimedLength: 500)).Error);
        Assert.Equal(AsyncEventBufferError.Truncated, Recorded.Decode(new BufferBuilder().Build(claimedLength: 10)).Error);
    }

    [Fact]
    public void APayloadRunningPastTheBufferOrAnIntegerCutShortIsMalformed()
    {
        var pastEnd = new BufferBuilder().Event(AsyncEventKind.ResumeStateMachineAsyncContext, 1_000, s_dispatcher7).Build();
        pastEnd[AsyncEventFormat.HeaderSize + 2] = 50; // the length field: 50 bytes where 1 is left

        var cutShort = new BufferBuilder().Event(AsyncEventKind.ResumeStateMachineAsyncContext, 1_000, 0x80).Build();

        Assert.Equal(AsyncEventBufferError.Malformed, Recorded.Decode(pastEnd).Error);
        Assert.Equal(AsyncEventBufferError.Malformed, Recorded.Decode(cutShort).Error);
    }

    [Fact]
    public void TheClockConvertsHoursAwayWithoutOverflowAndFollowsSyncEvents()
    {
        var clock = new AsyncEventClock(1_000_000_000, syncTimestamp: 10_000_000_000, syncUtcTicks: 0);
        Assert.Equal(TimeSpan.FromHours(30).Ticks + 1, clock.ToUtcTicks(10_000_000_000 + 30L * 3600 * 1_000_000_000 + 100));
        Assert.Equal(-TimeSpan.FromSeconds(1).Ticks, clock.ToUtcTicks(9_000_000_000));

        var fileTime = new DateTime(2026, 12, 5, 3, 0, 0, DateTimeKind.Utc).ToFileTimeUtc();
        var buffer = new BufferBuilder()
            .Event(AsyncEventKind.AsyncProfilerSyncClock, 2_000, [.. BufferBuilder.Unsigned(50_000_000_000), .. BufferBuilder.Unsigned((ulong)fileTime)])
            .Build();
        var reader = new AsyncEventReader(buffer, AsyncEventManifest.Shipped);
        Assert.True(reader.Next(out var e));
        Assert.True(clock.Update(e, out var manifest));
        Assert.Null(manifest);
        Assert.Equal(new DateTime(2026, 12, 5, 3, 0, 2, DateTimeKind.Utc).Ticks, clock.ToUtcTicks(52_000_000_000));
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(1_000_000L)]
    [InlineData(10_000_000L)]
    [InlineData(1_000_000_000L)]
    [InlineData(2_400_000_000L)]
    [InlineData(70_000_000L)]
    [InlineData(10_240_000_000L)]
    [InlineData(3_579_545L)]
    [InlineData(24_000_000L)]
    public void EveryFrequencyConvertsExactlyAsTheWholeDivisionWould(long frequency)
    {
        // The conversion without a hardware division (a multiplication, or a division by a constant as a multiplication
        // and a shift) must give the ticks floor(|elapsed| * TicksPerSecond / frequency) gives, signed, to the tick.
        const long utc = 639_010_000_000_000_000;
        var pairing = new AsyncEventClock(frequency, syncTimestamp: 0, syncUtcTicks: utc).Current;
        var random = new Random(14);
        var elapsed = new List<long> { 0, 1, -1, frequency - 1, frequency, frequency + 1, -frequency, long.MaxValue, long.MinValue + 1 };
        for (var multiple = 1L; multiple < 1_000_000_000_000; multiple *= 7)
            elapsed.AddRange([multiple * frequency / TimeSpan.TicksPerSecond - 1, multiple * frequency / TimeSpan.TicksPerSecond, multiple * frequency]);
        for (var i = 0; i < 20_000; i++)
            elapsed.Add(random.NextInt64(1L << random.Next(63)) * (random.Next(2) == 0 ? 1 : -1));
        var checkedCount = 0;
        foreach (var e in elapsed)
        {
            var ticks = BigInteger.Abs(e) * TimeSpan.TicksPerSecond / frequency;
            if (ticks > long.MaxValue / 2)
                continue;
            var expected = utc + (e < 0 ? -(long)ticks : (long)ticks);
            Assert.Equal(expected, pairing.ToUtcTicks(e));
            checkedCount++;
        }
        Assert.True(checkedCount > 5_000, $"{checkedCount} values in range");
    }

    private static AsyncEventManifest ManifestWith(params (byte Id, byte Version, PayloadLengthField Field)[] extra)
    {
        var entries = new List<byte>();
        for (var id = 1; id <= (int)AsyncEventKind.AsyncProfilerSyncClock; id++)
        {
            if (extra.Any(x => x.Id == id))
                continue;
            entries.AddRange([(byte)id, 1, (byte)AsyncEventManifest.Shipped.LengthField((byte)id)]);
        }
        foreach (var (id, version, field) in extra)
            entries.AddRange([id, version, (byte)field]);
        return AsyncEventManifest.FromEntries([(byte)(entries.Count / 3), .. entries])!;
    }
}
