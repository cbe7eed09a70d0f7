/* A CPU-bound mix: CRC-32, insertion sort, 8x8 matrix multiply and FNV
   string hashing over a caller-supplied buffer. */
static unsigned crc32(const unsigned char *p, int n)
{
	unsigned c = ~0u;
	for (int i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & -(c & 1));
	}
	return ~c;
}

static void sort(int *v, int n)
{
	for (int i = 1; i < n; i++) {
		int x = v[i], j = i - 1;
		while (j >= 0 && v[j] > x) {
			v[j + 1] = v[j];
			j--;
		}
		v[j + 1] = x;
	}
}

static unsigned matmul(int *a, int *b, int *c)
{
	unsigned s = 0;
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++) {
			int t = 0;
			for (int k = 0; k < 8; k++)
				t += a[i * 8 + k] * b[k * 8 + j];
			c[i * 8 + j] = t;
			s += t;
		}
	return s;
}

static unsigned fnv(const char *s)
{
	unsigned h = 2166136261u;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

unsigned kernel(int *buf, int rounds)
{
	unsigned acc = 0, seed = 12345;
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < 256; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (int)(seed >> 4);
		}
		acc ^= crc32((unsigned char *)buf, 256);
		sort(buf, 64);
		acc += matmul(buf, buf + 64, buf + 128);
		((char *)buf)[1000] = 0;
		acc ^= fnv((char *)buf + 900);
	}
	return acc;
}
