// Real-Xen boots are independent QEMU processes: run fixtures in parallel, one per core.
[assembly: Parallelizable(ParallelScope.Fixtures)]
[assembly: LevelOfParallelism(2)]
