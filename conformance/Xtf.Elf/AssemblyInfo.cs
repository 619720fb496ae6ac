namespace Xtf.Elf;
