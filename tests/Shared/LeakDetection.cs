using AsyncLens.Testing;

// The project's own suites run with leak detection on (issue 17's first quality line): every test fails if it leaves
// async work behind. xunit 2.9 runs an assembly's BeforeAfterTestAttribute around each test: one line for each suite.
[assembly: DetectAsyncLeaks]
