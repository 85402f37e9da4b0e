"""A character-level LSTM language model trained on a page of the lecture notes.

Notes 002 list recurrent layers, which feed their state back into themselves.
``nn.LSTM`` runs the recurrence over a sequence; an embedding maps characters
to vectors and a linear layer maps each hidden state to scores for the next
character. The loss is the cross-entropy of the next character at every
position. A model that has learned nothing scores log(V) per character (V
characters in the alphabet); the check asks for much less.
"""

import math

from _common import CharCorpus, Tutorial, notes_text

import chainrule as cr
from chainrule import nn


class CharLSTM(nn.Module):
    """ids (N, T) -> next-character logits (N, T, V)."""

    def __init__(self, vocabulary: int, width: int = 96):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, width)
        self.lstm = nn.LSTM(width, width, batch_first=True)
        self.head = nn.Linear(width, vocabulary)

    def forward(self, ids, state=None):
        hidden, state = self.lstm(self.embed(ids), state)
        return self.head(hidden), state


@cr.no_grad()
def sample(model, corpus: CharCorpus, prompt: str, length: int, generator) -> str:
    """Continue ``prompt`` one character at a time, carrying the LSTM state."""
    model.eval()
    ids = cr.tensor([[corpus.index[c] for c in prompt]])
    logits, state = model(ids)
    out = []
    for _ in range(length):
        probabilities = cr.softmax(logits[0, -1] / 0.7, dim=-1)
        nxt = cr.multinomial(probabilities, 1, generator=generator)
        out.append(nxt.item())
        logits, state = model(nxt[None, :], state)
    return prompt + corpus.decode(out)


def main():
    out = Tutorial("lstm_language_model")
    cr.manual_seed(0)
    corpus = CharCorpus(notes_text(), block=48)
    out.print(f"corpus: {len(corpus.ids)} characters of the notes' lecture 2, alphabet of {corpus.vocabulary}")
    model = CharLSTM(corpus.vocabulary)
    optimizer = cr.optim.Adam(model.parameters(), lr=0.01)
    generator = cr.Generator().manual_seed(0)
    chance = math.log(corpus.vocabulary)
    for step in range(1, 201):
        inputs, targets = corpus.batch(32, generator)
        logits, _ = model(inputs)
        loss = nn.functional.cross_entropy(logits.reshape(-1, corpus.vocabulary), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step in (1, 50, 100, 200):
            out.print(f"step {step:3d}: loss {loss.item():.3f} nats/char (uniform guessing: {chance:.3f})")
    out.check(loss.item() < 0.6 * chance, "the model predicts the next character far better than chance")
    out.print("sample:", repr(sample(model, corpus, "The ", 120, cr.Generator().manual_seed(1))))
    out.finish()


if __name__ == "__main__":
    main()
