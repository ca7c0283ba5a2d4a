namespace AsyncLens.Symbols;

/// <summary>IL offset to source line for one method (portable PDB sequence points).</summary>
internal sealed class SequencePointTable
{
    public static readonly SequencePointTable Empty = new([]);

    private readonly Point[] _points;

    public SequencePointTable(Point[] points) => _points = points;

    public bool IsEmpty => _points.Length == 0;

    /// <summary>The last visible sequence point at or before <paramref name="ilOffset"/>.</summary>
    public SourceLocation? At(int ilOffset)
    {
        SourceLocation? best = null;
        foreach (var p in _points)
        {
            if (p.Offset > ilOffset)
                break;
            if (p.Line > 0 && p.File is not null)
                best = new SourceLocation(p.File, p.Line);
        }
        return best;
    }

    /// <summary>The first visible sequence point at or after <paramref name="ilOffset"/>.</summary>
    public SourceLocation? AtOrAfter(int ilOffset)
    {
        foreach (var p in _points)
        {
            if (p.Offset >= ilOffset && p.Line > 0 && p.File is not null)
                return new SourceLocation(p.File, p.Line);
        }
        return null;
    }

    /// <summary>The visible sequence point with the highest line (the closing brace of a method body).</summary>
    public SourceLocation? Last()
    {
        SourceLocation? best = null;
        foreach (var p in _points)
        {
            if (p.Line > 0 && p.File is not null && (best is null || p.Line > best.Value.Line))
                best = new SourceLocation(p.File, p.Line);
        }
        return best;
    }

    internal readonly record struct Point(int Offset, int Line, string? File);
}
