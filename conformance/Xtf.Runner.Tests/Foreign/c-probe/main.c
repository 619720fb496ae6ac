/*
 * c-probe: a freestanding 64-bit PV kernel written in ordinary C and built by gcc -O2.
 *
 * It speaks the console protocol of Xen's test framework (a banner, an environment line, a
 * title, messages, "Test result: ..."), then powers the domain off. Its self-checks exist to
 * make the compiler produce typical code: loops, a switch with a jump table, constant and
 * variable 64-bit division, string routines, struct copies and a struct returned by value.
 * Every check prints what it computed, so a host that runs this kernel has to get the
 * arithmetic right to reproduce the expected lines.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------------------
 * Xen interface: hypercall numbers and sub-operations (values from Xen's public ABI).
 */
#define HYPERCALL_XEN_VERSION   17
#define HYPERCALL_CONSOLE_IO    18
#define HYPERCALL_SCHED_OP      29

#define CONSOLEIO_WRITE         0
#define XENVER_VERSION          0
#define SCHEDOP_SHUTDOWN        2
#define SHUTDOWN_POWEROFF       0

#define SIF_PRIVILEGED          (1u << 0)
#define SIF_INITDOMAIN          (1u << 1)

/* The first fields of the page whose address Xen passes in %rsi. */
struct start_info {
    char magic[32];             /* "xen-<version>-<arch>" */
    uint64_t nr_pages;
    uint64_t shared_info;
    uint32_t flags;
    /* further fields are not used here */
};

struct shutdown_request {
    uint32_t reason;
};

/* Filled by Xen: one 32-byte stub per hypercall number (defined in head.S). */
extern uint8_t hypercall_page[4096];

/*
 * A hypercall is a near call into the stub for its number. Arguments travel in rdi, rsi and
 * rdx (then r10, r8, r9); the result comes back in rax. The stub preserves rcx and r11 around
 * its syscall; the other argument registers are treated as clobbered.
 */
#define hypercall3(nr, a1, a2, a3) ({                                           \
    long ret_;                                                                  \
    long x1_ = (long)(a1), x2_ = (long)(a2), x3_ = (long)(a3);                  \
    __asm__ volatile ("call hypercall_page + %c[offset]"                        \
                      : "=a" (ret_), "+D" (x1_), "+S" (x2_), "+d" (x3_)         \
                      : [offset] "i" ((nr) * 32)                                \
                      : "r8", "r9", "r10", "memory");                           \
    ret_;                                                                       \
})
#define hypercall2(nr, a1, a2) hypercall3(nr, a1, a2, 0)

/* Hides a value from the optimiser so that a check is computed at run time. */
#define OPAQUE(x) ({ __typeof__(x) v_ = (x); __asm__ ("" : "+r" (v_)); v_; })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void kernel_main(const struct start_info *si);

/* ------------------------------------------------------------------------------------------
 * String and memory routines. gcc may call memcpy, memset, memmove and memcmp on its own
 * (for struct copies and initialisers), so they have external linkage. The build passes
 * -fno-tree-loop-distribute-patterns so that these loops are not turned back into calls to
 * themselves.
 */
void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    if (d == s || n == 0)
        return dst;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        d += n;
        s += n;
        while (n--)
            *--d = *--s;
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;

    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;

    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p < *q ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    const char *p = s;

    while (*p)
        p++;
    return (size_t)(p - s);
}

size_t strnlen(const char *s, size_t max)
{
    size_t n = 0;

    while (n < max && s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            break;
    }
    return 0;
}

char *strcpy(char *dst, const char *src)
{
    char *d = dst;

    while ((*d++ = *src++))
        ;
    return dst;
}

static void reverse(char *s)
{
    size_t len = strlen(s);

    if (len < 2)
        return;
    for (size_t i = 0, j = len - 1; i < j; i++, j--) {
        char t = s[i];

        s[i] = s[j];
        s[j] = t;
    }
}

/* ------------------------------------------------------------------------------------------
 * Formatting: a small vsnprintf. Conversions d i u x X p s c %, flags - 0 #, a field width,
 * and the length modifiers l, ll and z (all 64-bit here).
 */
struct sink {
    char *buf;
    size_t cap;
    size_t len;                 /* characters produced, even past cap */
};

struct conversion {
    bool left;                  /* '-' */
    bool zero;                  /* '0' */
    bool alt;                   /* '#' */
    bool wide;                  /* l, ll or z */
    unsigned int width;
};

static void put(struct sink *s, char c)
{
    if (s->len + 1 < s->cap)
        s->buf[s->len] = c;
    s->len++;
}

static void put_n(struct sink *s, const char *p, size_t n)
{
    while (n--)
        put(s, *p++);
}

static void put_repeat(struct sink *s, char c, size_t n)
{
    while (n--)
        put(s, c);
}

/* Writes the digits of v backwards, ending just before end; returns how many. */
static size_t digits_dec(char *end, uint64_t v)
{
    char *p = end;

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return (size_t)(end - p);
}

static size_t digits_hex(char *end, uint64_t v, bool upper)
{
    const char *xdigits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char *p = end;

    do {
        *--p = xdigits[v & 0xf];
        v >>= 4;
    } while (v);
    return (size_t)(end - p);
}

/* Emits prefix and body in a field of the conversion's width. */
static void put_field(struct sink *s, const struct conversion *c, const char *prefix,
                      const char *body, size_t body_len)
{
    size_t prefix_len = strlen(prefix);
    size_t used = prefix_len + body_len;
    size_t pad = c->width > used ? c->width - used : 0;

    if (!c->left && !c->zero)
        put_repeat(s, ' ', pad);
    put_n(s, prefix, prefix_len);
    if (!c->left && c->zero)
        put_repeat(s, '0', pad);
    put_n(s, body, body_len);
    if (c->left)
        put_repeat(s, ' ', pad);
}

static int vformat(char *buf, size_t cap, const char *fmt, va_list ap)
{
    struct sink s = { .buf = buf, .cap = cap, .len = 0 };
    char digits[24];
    char *end = digits + sizeof(digits);

    while (*fmt) {
        struct conversion c = { 0 };
        const char *str;
        uint64_t u;
        int64_t d;
        size_t n;

        if (*fmt != '%') {
            put(&s, *fmt++);
            continue;
        }
        fmt++;

        for (;; fmt++) {
            if (*fmt == '-')
                c.left = true;
            else if (*fmt == '0')
                c.zero = true;
            else if (*fmt == '#')
                c.alt = true;
            else
                break;
        }
        while (*fmt >= '0' && *fmt <= '9')
            c.width = c.width * 10 + (unsigned int)(*fmt++ - '0');
        while (*fmt == 'l' || *fmt == 'z') {
            c.wide = true;
            fmt++;
        }

        switch (*fmt) {
        case 'd':
        case 'i':
            d = c.wide ? va_arg(ap, long) : va_arg(ap, int);
            /* Negate in unsigned arithmetic so that the most negative value works. */
            u = d < 0 ? 0 - (uint64_t)d : (uint64_t)d;
            n = digits_dec(end, u);
            put_field(&s, &c, d < 0 ? "-" : "", end - n, n);
            break;

        case 'u':
            u = c.wide ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
            n = digits_dec(end, u);
            put_field(&s, &c, "", end - n, n);
            break;

        case 'x':
        case 'X':
            u = c.wide ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
            n = digits_hex(end, u, *fmt == 'X');
            put_field(&s, &c, c.alt && u ? (*fmt == 'X' ? "0X" : "0x") : "", end - n, n);
            break;

        case 'p':
            u = (uintptr_t)va_arg(ap, void *);
            n = digits_hex(end, u, false);
            put_field(&s, &c, "0x", end - n, n);
            break;

        case 's':
            str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            c.zero = false;
            put_field(&s, &c, "", str, strlen(str));
            break;

        case 'c':
            digits[0] = (char)va_arg(ap, int);
            c.zero = false;
            put_field(&s, &c, "", digits, 1);
            break;

        case '%':
            put(&s, '%');
            break;

        case '\0':              /* a lone '%' at the end: print it */
            put(&s, '%');
            continue;

        default:                /* unknown conversion: print it as it was written */
            put(&s, '%');
            put(&s, *fmt);
            break;
        }
        fmt++;
    }

    if (cap)
        buf[s.len < cap ? s.len : cap - 1] = '\0';
    return (int)s.len;
}

static int format(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int format(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vformat(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

/* ------------------------------------------------------------------------------------------
 * Console output and shutdown.
 */
static void console_write(const char *text, size_t len)
{
    hypercall3(HYPERCALL_CONSOLE_IO, CONSOLEIO_WRITE, len, text);
}

static void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void printk(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vformat(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 1;
    console_write(line, (size_t)n);
}

static __attribute__((noreturn)) void shutdown(uint32_t reason)
{
    struct shutdown_request req = { .reason = reason };

    hypercall2(HYPERCALL_SCHED_OP, SCHEDOP_SHUTDOWN, &req);
    for (;;)
        ;
}

/* ------------------------------------------------------------------------------------------
 * Self-checks. Each prints one line of results and a "Fail:" line for any mismatch.
 */
static unsigned int failures;

static void expect_str(const char *what, const char *got, const char *want)
{
    if (strcmp(got, want) != 0) {
        failures++;
        printk("Fail: %s: got \"%s\", expected \"%s\"\n", what, got, want);
    }
}

static void expect_u64(const char *what, uint64_t got, uint64_t want)
{
    if (got != want) {
        failures++;
        printk("Fail: %s: got %lu (%#lx), expected %lu (%#lx)\n", what, got, got, want, want);
    }
}

static void check_decimal(void)
{
    char buf[96];

    format(buf, sizeof(buf), "%d %d %u %ld %lu", OPAQUE(0), OPAQUE(-42), OPAQUE(4294967295u),
           OPAQUE(INT64_MIN), OPAQUE(UINT64_MAX));
    printk("Decimal: %s\n", buf);
    expect_str("decimal formatting", buf, "0 -42 4294967295 -9223372036854775808 18446744073709551615");
}

static void check_hex(void)
{
    char buf[96];

    format(buf, sizeof(buf), "%x %x %X %08x %#lx", OPAQUE(0u), OPAQUE(255u), OPAQUE(0xdeadbeefu),
           OPAQUE(0xbeefu), OPAQUE(0x123456789abcdef0ul));
    printk("Hex: %s\n", buf);
    expect_str("hex formatting", buf, "0 ff DEADBEEF 0000beef 0x123456789abcdef0");
}

static void check_width(void)
{
    char buf[96];

    format(buf, sizeof(buf), "[%5d] [%-5d] [%05d] [%3s] [%-4s] [%c] [%%]", OPAQUE(42), OPAQUE(42),
           OPAQUE(-42), "ab", "cd", 'Z');
    printk("Width: %s\n", buf);
    expect_str("field widths", buf, "[   42] [42   ] [-0042] [ ab] [cd  ] [Z] [%]");

    /* A buffer that is too small: truncated, terminated, and the full length returned. */
    int n = format(buf, 8, "%s-%u", "truncated", OPAQUE(12345u));
    expect_u64("untruncated length", (uint64_t)n, 15);
    expect_str("truncated output", buf, "truncat");
}

static void check_strings(void)
{
    char text[32];
    char forward[24], backward[24];

    strcpy(text, "Xen Test Framework");
    reverse(text);
    printk("Strings: strlen %u, reversed \"%s\"\n", (unsigned int)strlen(text), text);
    expect_u64("strlen", strlen(text), 18);
    expect_str("reverse", text, "krowemarF tseT neX");
    if (strncmp(text, "krowe", 5) != 0 || strcmp(text, "krowemarF") <= 0 || strcmp("a", "b") >= 0) {
        failures++;
        printk("Fail: strcmp/strncmp ordering\n");
    }

    /* Overlapping moves in both directions. */
    strcpy(forward, "0123456789abcdef");
    memmove(forward + 4, forward, 10);
    strcpy(backward, "0123456789abcdef");
    memmove(backward, backward + 6, 10);
    printk("memmove: forward \"%s\", backward \"%s\"\n", forward, backward);
    expect_str("memmove forward", forward, "01230123456789ef");
    expect_str("memmove backward", backward, "6789abcdefabcdef");
}

static uint32_t crc_table[256];

static void crc32_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;

        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t crc = 0xffffffffu;

    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void check_checksum(void)
{
    static const char input[] = "123456789";
    uint64_t squares = 0;
    unsigned int limit = OPAQUE(100u);

    crc32_init();
    uint32_t crc = crc32(OPAQUE(&input[0]), strlen(input));
    printk("CRC-32 of \"%s\": %08x (table[1] %08x, table[255] %08x)\n", input, crc, crc_table[1],
           crc_table[255]);
    expect_u64("crc32", crc, 0xcbf43926u);
    expect_u64("crc table[1]", crc_table[1], 0x77073096u);
    expect_u64("crc table[255]", crc_table[255], 0x2d02ef8du);

    for (unsigned int i = 1; i <= limit; i++)
        squares += (uint64_t)i * i;
    printk("Sum of squares 1..%u: %lu\n", limit, squares);
    expect_u64("sum of squares", squares, 338350);
}

/*
 * A register machine interpreted by a switch: gcc compiles the dispatch to a jump table.
 */
enum opcode { OP_HALT, OP_MOVI, OP_MOV, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_JNZ, OP_DJNZ };

struct insn {
    uint8_t op;
    uint8_t a;
    uint8_t b;
    int32_t imm;                /* immediate or jump target */
};

struct machine {
    uint64_t reg[8];
    unsigned int pc;
    unsigned int steps;
    bool faulted;
};

static void run_machine(struct machine *m, const struct insn *prog, size_t len)
{
    while (m->pc < len && m->steps < 10000) {
        const struct insn *i = &prog[m->pc++];
        uint64_t *ra = &m->reg[i->a & 7];
        uint64_t rb = m->reg[i->b & 7];

        m->steps++;
        switch (i->op) {
        case OP_HALT:
            return;
        case OP_MOVI:
            *ra = (uint64_t)(int64_t)i->imm;
            break;
        case OP_MOV:
            *ra = rb;
            break;
        case OP_ADD:
            *ra += rb;
            break;
        case OP_SUB:
            *ra -= rb;
            break;
        case OP_MUL:
            *ra *= rb;
            break;
        case OP_DIV:
        case OP_MOD:
            if (rb == 0) {
                m->faulted = true;
                return;
            }
            *ra = i->op == OP_DIV ? *ra / rb : *ra % rb;
            break;
        case OP_DJNZ:
            if (--*ra != 0)
                m->pc = (unsigned int)i->imm;
            break;
        case OP_JNZ:
            if (*ra != 0)
                m->pc = (unsigned int)i->imm;
            break;
        default:
            m->faulted = true;
            return;
        }
    }
}

static void check_switch(void)
{
    /* r0 = 12!, then r2 = the sum of r0's decimal digits. */
    static const struct insn program[] = {
        { OP_MOVI, 0, 0, 1 },
        { OP_MOVI, 1, 0, 12 },
        { OP_MUL,  0, 1, 0 },           /* 2: r0 *= r1 */
        { OP_DJNZ, 1, 0, 2 },
        { OP_MOVI, 2, 0, 0 },
        { OP_MOVI, 3, 0, 10 },
        { OP_MOV,  4, 0, 0 },
        { OP_MOV,  5, 4, 0 },           /* 7: r5 = r4 % 10 */
        { OP_MOD,  5, 3, 0 },
        { OP_ADD,  2, 5, 0 },
        { OP_DIV,  4, 3, 0 },
        { OP_JNZ,  4, 0, 7 },
        { OP_HALT, 0, 0, 0 },
    };
    struct machine m = { 0 };

    run_machine(&m, OPAQUE(&program[0]), ARRAY_SIZE(program));
    printk("Switch: 12! = %lu, digit sum %lu, %u steps%s\n", m.reg[0], m.reg[2], m.steps,
           m.faulted ? " (faulted)" : "");
    expect_u64("12!", m.reg[0], 479001600);
    expect_u64("digit sum", m.reg[2], 27);
    expect_u64("steps", m.steps, 75);
    expect_u64("machine fault", m.faulted, 0);
}

static void check_division(void)
{
    uint64_t n = OPAQUE(0xfedcba9876543210ul), d = OPAQUE(1000000007ul);
    uint64_t q = n / d, r = n % d;
    int64_t sn = OPAQUE(-1000000000000l), sd = OPAQUE(7l);
    int64_t sq = sn / sd, sr = sn % sd;

    printk("Division: %lu / %lu = %lu rem %lu\n", n, d, q, r);
    printk("Signed division: %ld / %ld = %ld rem %ld\n", sn, sd, sq, sr);
    expect_u64("quotient", q, 18364758415ul);
    expect_u64("remainder", r, 939755815ul);
    expect_u64("q * d + r", q * d + r, n);
    expect_u64("signed quotient", (uint64_t)sq, (uint64_t)-142857142857l);
    expect_u64("signed remainder", (uint64_t)sr, (uint64_t)-1l);
}

struct record {
    char name[24];
    uint32_t id;
    uint16_t flags;
    uint8_t level;
    uint64_t values[8];
};

static struct record make_record(const char *name, uint32_t id)
{
    struct record r = { .id = id, .flags = 0x8001, .level = 3 };

    strcpy(r.name, name);
    for (unsigned int i = 0; i < ARRAY_SIZE(r.values); i++)
        r.values[i] = (uint64_t)(i + 1) * id;
    return r;                   /* returned through a hidden pointer */
}

static uint64_t sum_values(struct record r)   /* passed by value: a copy on the stack */
{
    uint64_t sum = 0;

    for (unsigned int i = 0; i < ARRAY_SIZE(r.values); i++)
        sum += r.values[i];
    r.values[0] = 0;            /* changes only the callee's copy */
    return sum;
}

static void check_struct_copy(void)
{
    struct record a = make_record(OPAQUE((const char *)"probe"), OPAQUE(17u));
    struct record b = a;
    struct record table[4];

    b.name[0] = 'P';
    b.values[7] = 1000;
    for (unsigned int i = 0; i < ARRAY_SIZE(table); i++) {
        table[i] = i % 2 ? a : b;
        table[i].id += i;
    }

    uint64_t sum_a = sum_values(a), sum_b = sum_values(b);
    printk("Struct copy: %u bytes, %s/%s, sums %lu/%lu, ids %u %u %u %u\n",
           (unsigned int)sizeof(struct record), a.name, b.name, sum_a, sum_b,
           table[0].id, table[1].id, table[2].id, table[3].id);
    expect_str("original name", a.name, "probe");
    expect_str("copied name", b.name, "Probe");
    expect_u64("original sum", sum_a, 612);
    expect_u64("copy sum", sum_b, 1476);
    expect_u64("original values[0] after call", a.values[0], 17);
    if (memcmp(&table[2], &b, offsetof(struct record, id)) != 0 || table[3].flags != 0x8001) {
        failures++;
        printk("Fail: struct array copy\n");
    }
}

/*
 * External linkage keeps gcc from proving that nothing writes the array and folding the
 * loads to zero: the check then really reads memory that Xen's loader had to clear.
 */
uint8_t bss_probe[4096];

static void check_bss(void)
{
    size_t nonzero = 0;

    for (size_t i = 0; i < sizeof(bss_probe); i++)
        nonzero += bss_probe[OPAQUE(i)] != 0;
    printk("BSS: %u of %u bytes non-zero\n", (unsigned int)nonzero, (unsigned int)sizeof(bss_probe));
    expect_u64("non-zero bss bytes", nonzero, 0);
}

static void check_xen(const struct start_info *si)
{
    long version = hypercall2(HYPERCALL_XEN_VERSION, XENVER_VERSION, 0);
    char magic[sizeof(si->magic) + 1];

    printk("Xen version: %lu.%lu (%#010lx)\n", (unsigned long)version >> 16,
           (unsigned long)version & 0xffff, (unsigned long)version);
    expect_u64("XENVER_version", (uint64_t)version, 0x00040011);

    memcpy(magic, si->magic, sizeof(si->magic));
    magic[strnlen(magic, sizeof(si->magic))] = '\0';
    bool dom0 = (si->flags & (SIF_PRIVILEGED | SIF_INITDOMAIN)) == (SIF_PRIVILEGED | SIF_INITDOMAIN);
    printk("start_info: magic \"%s\", %s\n", magic, dom0 ? "privileged initial domain" : "not dom0");
    if (strncmp(magic, "xen-3.0-x86_64", 14) != 0) {
        failures++;
        printk("Fail: start_info magic does not start \"xen-3.0-x86_64\"\n");
    }
    if (!dom0) {
        failures++;
        printk("Fail: start_info flags %#x lack SIF_PRIVILEGED|SIF_INITDOMAIN\n", si->flags);
    }
}

void kernel_main(const struct start_info *si)
{
    printk("--- Xen Test Framework ---\n");
    printk("Environment: PV 64bit (Long mode 4 levels)\n");
    printk("Freestanding C kernel built by gcc\n");

    check_decimal();
    check_hex();
    check_width();
    check_strings();
    check_checksum();
    check_switch();
    check_division();
    check_struct_copy();
    check_bss();
    check_xen(si);

    printk("Test result: %s\n", failures ? "FAILURE" : "SUCCESS");
    shutdown(SHUTDOWN_POWEROFF);
}
