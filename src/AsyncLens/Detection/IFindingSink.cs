using AsyncLens.Reporting;

namespace AsyncLens.Detection;

/// <summary>Where detectors hand what they saw. Must not block: it is called on app threads.</summary>
internal interface IFindingSink
{
    void Add(Finding finding);
}
