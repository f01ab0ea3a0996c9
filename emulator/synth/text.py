"""Deterministic, offline replies for the native generation and OpenAI-compatible chat endpoints.

`generate_reply` is a pure function. The reply is drawn from a `random.Random` seeded with a SHA-256 of
(server_seed, model, persona, every message's role and text, seed, temperature, top_p, memory), so the same request
gives the same reply byte for byte in any process. Two choices mimic a real sampler:

- `max_tokens` and `stop` only *cut* the reply: they are not hashed, so a cut reply is always a prefix of the uncut
  one, the way a model does not know in advance where it will be stopped.
- At temperature 0 (greedy decoding) the request `seed` is left out of the hash: every seed gives the same reply.

Usage: `input_tokens` is `count_tokens` of each message's text plus `MESSAGE_OVERHEAD_TOKENS` per message (Qwen's chat
template wraps each turn in `<|im_start|>role ... <|im_end|>`). Image, audio and other non-text parts count nothing.

The word lists come from Faker's lorem providers (en_US parts of speech, zh_CN words), built once per locale.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal

from emulator.synth.tokens import count_tokens, is_chinese

if TYPE_CHECKING:
    from faker import Faker

MESSAGE_OVERHEAD_TOKENS = 4
FUZZY_MATCH_THRESHOLD = 0.6
DEFAULT_TEMPERATURE = 0.7

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class Reply:
    text: str
    pieces: tuple[str, ...]
    finish_reason: FinishReason
    input_tokens: int
    output_tokens: int


class Memory(tuple[tuple[str, str], ...]):
    """A fine-tune's (prompt, answer) training pairs, with their match data worked out once.

    `generate_reply` accepts any sequence of pairs; passing a Memory kept per fine-tuned model saves normalising every
    training prompt on every call. Both give the same replies.
    """

    @classmethod
    def of(cls, pairs: object) -> Memory:
        """Keeps the well-formed (str, str) pairs and drops anything else."""
        if isinstance(pairs, Memory):
            return pairs
        if not isinstance(pairs, Iterable) or isinstance(pairs, str | bytes):
            return cls()
        return cls(
            (pair[0], pair[1])
            for pair in pairs
            if isinstance(pair, Sequence) and len(pair) == 2 and isinstance(pair[0], str) and isinstance(pair[1], str)
        )

    @cached_property
    def fingerprint(self) -> str:
        return hashlib.sha256(_dumps(list(self))).hexdigest() if self else _NO_MEMORY

    @cached_property
    def _chinese(self) -> tuple[tuple[str, frozenset[str]], ...]:
        return tuple(_signature(question, True) for question, _ in self)

    @cached_property
    def _other(self) -> tuple[tuple[str, frozenset[str]], ...]:
        return tuple(_signature(question, False) for question, _ in self)

    def signatures(self, chinese: bool) -> tuple[tuple[str, frozenset[str]], ...]:
        return self._chinese if chinese else self._other


@dataclass(frozen=True)
class _Lexicon:
    nouns: tuple[str, ...]
    adjectives: tuple[str, ...]
    verbs: tuple[str, ...]


# --- word sources -------------------------------------------------------------------------------------------------

_EN_ODD_ADJECTIVES = frozenset({"pregnant", "scared", "hungry", "cute", "drunk", "angry", "sad", "dead", "sorry"})
_EN_ODD_VERBS = frozenset(
    "be have do say seem mean become happen appear live stand sit die exist arrive lie occur remain agree belong go "
    "come feel fall wait sleep laugh".split()
)
_ZH_FUNCTION_WORDS = frozenset(
    "一个 我们 可以 没有 自己 这个 他们 已经 进行 如果 现在 就是 提供 相关 我的 发表 所有 时候 因为 有限 "
    "什么 还是 开始 本站 发布 支持 联系 所以 不能 的人 需要 通过 不是 免费 但是 最后 同时 这些 推荐 一些 "
    "主要 大家 发现 目前 你的 不过 的是 选择 其他 这样 来自 成为 他的 最新 一下 任何 都是 点击 为了 不会 "
    "出现 知道 而且 可能 这种 虽然 看到 精华 如何 只有 回复 关于 不同 以及 有关 那么 还有 只是 非常 也是 "
    "怎么 应该 今天 以上 更新 显示 查看 不要 由于 无法 详细 是一 一般 进入 发生 这里 感觉 更多 你们 的话 "
    "起来 一样 认为 那个 之后 然后 说明 提高 为什 或者 喜欢 必须 作为 其中 直接 登录 这是 对于 表示 包括 "
    "具有 因此 可是 一直 这么 您的 基本 最大 两个 一次 继续 她的 欢迎 加入 能够 觉得 根据 其实 之间 一种 "
    "出来 谢谢 是否 完全 决定 很多 今年 以后 浏览 完成 有些 一起 当然 一点 增加 以下 不断 那些 如此 到了 "
    "拥有 参加 只要 当前 正在 注意 一定 一切 特别 全部 准备 下载 注册 留言 帖子 积分 威望 论坛 首页 会员 "
    "等级 类别 次数 标题 密码 本站 女人 男人 记者 作者 日期 点击 大小".split()
)
_ZH_ADJECTIVES = ("重要", "关键", "基础", "常见", "实用", "核心", "有效", "合理")

# The one piece of module state: Faker is slow to build, so each locale's word lists are built once.
_LEXICONS: dict[str, _Lexicon] = {}


def _lexicon(chinese: bool) -> _Lexicon:
    locale = "zh_CN" if chinese else "en_US"
    lexicon = _LEXICONS.get(locale)
    if lexicon is None:
        from faker import Faker  # imported on first use: ~90 ms of every start-up otherwise

        lexicon = _build_lexicon(Faker(locale), chinese)
        _LEXICONS[locale] = lexicon
    return lexicon


def _build_lexicon(fake: Faker, chinese: bool) -> _Lexicon:
    if chinese:
        nouns = tuple(dict.fromkeys(w for w in fake.get_words_list() if w not in _ZH_FUNCTION_WORDS))
        return _Lexicon(nouns=nouns, adjectives=_ZH_ADJECTIVES, verbs=())
    adjectives = fake.get_words_list(part_of_speech="adjective")
    verbs = fake.get_words_list(part_of_speech="verb")
    return _Lexicon(
        nouns=tuple(fake.get_words_list(part_of_speech="noun")),
        adjectives=tuple(w for w in adjectives if w not in _EN_ODD_ADJECTIVES),
        verbs=tuple(w for w in verbs if w not in _EN_ODD_VERBS and not w.endswith("ing")),
    )


# --- templates ----------------------------------------------------------------------------------------------------

_EN_LEADS = (
    "When it comes to {kw}, the most {adj} factor is usually the {noun}.",
    "{kw} is closely tied to {noun} and {noun2}, so it helps to look at both.",
    "A {adj} way to think about {kw} is to start from the {noun} and work outwards.",
    "There is no single answer about {kw}, because it changes with the {noun} involved.",
    "In short, {kw} comes down to {noun}, {noun2} and a bit of patience.",
    "Good question: {kw} is a {adj} topic that many people ask about.",
)
_EN_BODY = (
    "In practice, most people {verb} the {noun} first and only then worry about {kw}.",
    "It depends on your {noun}, but a {adj} {noun2} is often a good starting point.",
    "If you are new to {kw}, focus on the {adj} parts before the details.",
    "Keep in mind that {kw} and {kw2} often affect each other.",
    "I would suggest writing down your {noun} and checking it against {kw}.",
    "A common mistake is to ignore the {noun} and {verb} everything at once.",
    "Looking at the {noun} from a {adj} angle usually makes {kw} easier to follow.",
    "Over time, a {adj} {noun} tends to matter more than any single trick.",
)
_EN_CLOSERS = (
    "I hope this helps!",
    "Let me know if you would like more detail on {kw}.",
    "Feel free to ask if anything about {kw} is unclear.",
)
_ZH_LEADS = (
    "关于{kw}，最{adj}的一点通常是{noun}。",
    "{kw}通常与{noun}和{noun2}密切相关。",
    "理解{kw}的关键，在于把握{noun}与{noun2}之间的关系。",
    "这是一个很好的问题，{kw}其实是一个{adj}的话题。",
    "简单来说，{kw}主要取决于{noun}和{noun2}。",
    "{kw}并没有唯一的答案，它会随着{noun}的变化而不同。",
)
_ZH_BODY = (
    "在实际{noun}中，{kw}往往取决于具体的{noun2}。",
    "如果你刚开始了解{kw}，可以先从{noun}入手。",
    "很多人在处理{kw}时，会优先考虑{noun}。",
    "需要注意的是，{kw}和{kw2}之间往往会相互影响。",
    "建议结合自身的{noun}情况，逐步调整{noun2}。",
    "从{noun}的角度看，{kw}还有不少值得改进的地方。",
    "一个常见的误区是忽视{noun}，而只关注{noun2}。",
    "长期来看，{adj}的{noun}往往比一时的技巧更重要。",
)
_ZH_CLOSERS = ("希望对你有所帮助！", "如果还有其他关于{kw}的问题，欢迎继续提问。", "如需更详细的说明，请告诉我。")

_EN_IDENTITY = (
    "I am {name}, a large language model created by Alibaba Cloud.",
    "I am {name}, an AI assistant developed by Alibaba Cloud.",
    "I am {name}, a large language model trained to be a helpful assistant.",
)
_EN_IDENTITY_MORE = (
    "I can answer questions, write and summarize text, translate, and help with code.",
    "I can help you with questions, writing, translation, analysis and more.",
)
_EN_IDENTITY_END = ("How can I help you today?", "What can I do for you?")
_ZH_IDENTITY = (
    "我是基于 {name} 的模型，一个由阿里云开发的 AI 助手。",
    "我是基于 {name} 的大语言模型，是阿里云推出的人工智能助手。",
    "我是基于 {name} 的模型，可以陪你聊天，也能帮你解决问题。",
)
_ZH_IDENTITY_MORE = (
    "我可以回答问题、创作文字，还能帮你翻译、写代码和整理思路。",
    "我能够协助你完成问答、写作、总结和翻译等任务。",
)
_ZH_IDENTITY_END = ("有什么我可以帮你的吗？", "请问有什么可以帮到你？")

_ZH_IDENTITY_RE = re.compile(
    r"你是谁|您是谁|你叫什么|您叫什么|你的名字|您的名字|你是什么|您是什么|你是哪|您是哪|介绍一?下?你自己|自我介绍"
    r"|你是.{0,6}(模型|机器人|ai|gpt|通义|千问|qwen|助手)"
)
_EN_IDENTITY_RE = re.compile(
    r"\bwho (are|r) (you|u)\b|^what are you$|\b(what|which) (model|llm|ai|language model|version) (are|r) (you|u)\b"
    r"|\bwhat( i|)s your name\b|\bintroduce yourself\b|\btell me about yourself\b|\byour name\b"
    r"|\bare you (chatgpt|gpt|qwen|an ai|a bot|a robot|human|a human|a model)\b"
)

_EN_STOPWORDS = frozenset(
    "the a an and or but if then so of to in on at by for with from about into over under as is are was were be been "
    "being am do does did have has had can could would should will shall may might must not no yes you your yours i me "
    "my mine we our us they them their he she it its his her this that these those what which who whom whose why how "
    "when where there here please tell explain describe give write show let make some any all more most much many few "
    "very just also than too out up down off again once only own same such both each other between through during "
    "before after above below want need know like get got use using used help thanks thank hello hi hey okay ok "
    "learn understand start find try".split()
)
_ZH_STOP_RE = re.compile(
    "|".join(
        sorted(
            "请问 请 你们 你 您 我们 我 他们 他 她 它 是不是 是 的 了 吗 呢 吧 啊 呀 什么 怎么样 "
            "怎么 怎样 如何 为什么 为何 哪些 哪个 哪里 一下 一些 一个 可以 能否 能不能 能 会 要 想 告诉 介绍 解释 说明 "
            "说说 讲讲 讲 谈谈 关于 有关 有 和 与 及 或 在 对 把 被 给 帮忙 帮我 帮 写 这个 那个 "
            "这 那 谁 还 也 都 就 又 很 最 以及 多少 几 推荐 分析 总结 翻译 生成 列出 列举 比较 描述 "
            "讨论 说一说".split(),
            key=len,
            reverse=True,
        )
    )
    + r"|[一两几][首篇段份款种个部本条句张位只家些点]"
    + r"|[^\u3400-\u4dbf\u4e00-\u9fffA-Za-z0-9+#]+"
)
_EN_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9+#'\-]*")
_NOT_WORD_RE = re.compile(r"[\W_]+")
_WORD_RE = re.compile(r"\w+")
_SENTENCE_RE = re.compile(r"[^。.!！?？\n]+[。.!！?？]*")
_CLAUSE_END = "，,。.!！?？；;：:"
_WORD_PIECE_RE = re.compile(r"\s*\S+\s*")
_ZH_UNIT_RE = re.compile(r"[!-~]+[ \t]*|.", re.DOTALL)
_AN_RE = re.compile(r"\b([Aa]) (?=[aeiouAEIOU])")


# --- public entry point -------------------------------------------------------------------------------------------


def generate_reply(
    *,
    model: str,
    messages: Sequence[Mapping[str, object]],
    seed: int | None = None,
    max_tokens: int | None = None,
    stop: Sequence[str] | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    memory: Sequence[tuple[str, str]] = (),
    persona: str | None = None,
    server_seed: int = 0,
    context: object = None,
    split: bool = True,
) -> Reply:
    """``context``: anything else the reply depends on (the identities of the images shown): hashed, never read.
    ``split=False``: the reply is not streamed, its pieces are not drawn (one piece, the whole text): the draws come
    after the text's, so the text is the same."""
    turns = _turns(messages)
    pairs = Memory.of(memory)
    temp = DEFAULT_TEMPERATURE if temperature is None else temperature
    key = [server_seed, model, persona, turns, None if temp == 0 else seed, temperature, top_p, pairs.fingerprint]
    if context is not None:
        key.append(context)
    rng = random.Random(_digest(key))
    prompt = _prompt(turns)
    full = _compose(rng, prompt, persona or model or "qwen", pairs, temp)
    end, finish = _cut(full, stop, max_tokens)
    text = full[:end]
    return Reply(
        text=text,
        pieces=_truncate(_split(rng, full), end) if split else ((text,) if text else ()),
        finish_reason=finish,
        input_tokens=sum(count_tokens(t) + MESSAGE_OVERHEAD_TOKENS for _, t in turns),
        output_tokens=count_tokens(text),
    )


def recite(
    text: str,
    *,
    messages: Sequence[Mapping[str, object]],
    seed: int | None = None,
    max_tokens: int | None = None,
    stop: Sequence[str] | None = None,
) -> Reply:
    """A reply whose text is given (a remembered training answer): split into stream pieces and cut by ``stop`` and
    ``max_tokens`` exactly as a generated reply is, with the same usage accounting."""
    turns = _turns(messages)
    rng = random.Random(_digest(["recite", text, turns, seed]))
    end, finish = _cut(text, stop, max_tokens)
    return Reply(
        text=text[:end],
        pieces=_truncate(_split(rng, text), end),
        finish_reason=finish,
        input_tokens=sum(count_tokens(t) + MESSAGE_OVERHEAD_TOKENS for _, t in turns),
        output_tokens=count_tokens(text[:end]),
    )


# --- request parsing ----------------------------------------------------------------------------------------------


def _turns(messages: object) -> list[tuple[str, str]]:
    """(role, text) of each message; anything that is not a message object is skipped."""
    if not isinstance(messages, Sequence) or isinstance(messages, str | bytes):
        return []
    turns: list[tuple[str, str]] = []
    for message in messages:
        if isinstance(message, Mapping):
            role = message.get("role")
            turns.append((role if isinstance(role, str) else "", content_text(message.get("content"))))
    return turns


def content_text(content: object) -> str:
    """A plain string, or the text parts of a DashScope ({"text": ..}) or OpenAI ({"type": "text", ..}) part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        text = content.get("text")
        return text if isinstance(text, str) else ""
    if isinstance(content, list | tuple):
        return "\n".join(t for t in (content_text(part) for part in content) if t)
    return ""


def _prompt(turns: list[tuple[str, str]]) -> str:
    for role, text in reversed(turns):
        if role == "user":
            return text
    return next((text for _, text in reversed(turns) if text), "")


_NO_MEMORY = hashlib.sha256(b"[]").hexdigest()
"""The fingerprint of no training pairs (a base model's, asked for at every call)."""


def _dumps(value: object) -> bytes:
    return _KEY_JSON(value).encode("utf-8", "surrogatepass")


_KEY_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=repr).encode
"""``json.dumps`` with these options, without building an encoder per call."""


def _digest(key: object) -> int:
    return int.from_bytes(hashlib.sha256(_dumps(key)).digest()[:16], "big")


# --- composing the reply ------------------------------------------------------------------------------------------


def _compose(rng: random.Random, prompt: str, name: str, memory: Memory, temperature: float) -> str:
    chinese = is_chinese(prompt)
    style: str | None = None
    if memory:
        score, answer = _nearest(prompt, memory, chinese, rng)
        if score >= FUZZY_MATCH_THRESHOLD:
            return answer
        style = answer
    if _is_identity(prompt, chinese):
        sentences = _identity(rng, name, chinese)
    else:
        sentences = _prose(rng, prompt, chinese, temperature)
    if style is not None and is_chinese(style) == chinese:
        sentences = _borrow_style(style, sentences, chinese)
    return _join(sentences, chinese)


IDENTITY_MAX_CHARS = 2000
"""A prompt longer than this is no "who are you?": the patterns are not searched through a whole document."""


def _is_identity(prompt: str, chinese: bool) -> bool:
    if len(prompt) > IDENTITY_MAX_CHARS:
        return False
    if chinese:
        return _ZH_IDENTITY_RE.search(_squash(prompt)) is not None
    return _EN_IDENTITY_RE.search(" ".join(_words(prompt))) is not None


def _identity(rng: random.Random, name: str, chinese: bool) -> list[str]:
    first, more, end = (
        (_ZH_IDENTITY, _ZH_IDENTITY_MORE, _ZH_IDENTITY_END)
        if chinese
        else (_EN_IDENTITY, _EN_IDENTITY_MORE, _EN_IDENTITY_END)
    )
    sentences = [rng.choice(first).format(name=name)]
    if rng.random() < 0.7:
        sentences.append(rng.choice(more))
    sentences.append(rng.choice(end))
    return sentences


def _prose(rng: random.Random, prompt: str, chinese: bool, temperature: float) -> list[str]:
    lexicon = _lexicon(chinese)
    keywords = _keywords(prompt, chinese) or [rng.choice(lexicon.nouns)]
    kw = rng.choice(sorted(keywords, key=len, reverse=True)[:3])
    others = [k for k in keywords if k != kw]
    slots = {
        "kw": kw,
        "kw2": rng.choice(others) if others else rng.choice(lexicon.nouns),
        "noun": rng.choice(lexicon.nouns),
        "noun2": rng.choice(lexicon.nouns),
        "adj": rng.choice(lexicon.adjectives),
        "verb": rng.choice(lexicon.verbs) if lexicon.verbs else "",
    }
    leads, body, closers = (_ZH_LEADS, _ZH_BODY, _ZH_CLOSERS) if chinese else (_EN_LEADS, _EN_BODY, _EN_CLOSERS)
    count = _sentence_count(rng, temperature)
    templates = [rng.choice(leads), *rng.sample(body, min(count - 1, len(body)))]
    if count >= 2 and rng.random() < 0.4:
        templates[-1] = rng.choice(closers)
    sentences = [_capitalize(t.format(**slots)) for t in templates]
    return sentences if chinese else [_AN_RE.sub(r"\1n ", s) for s in sentences]


def _sentence_count(rng: random.Random, temperature: float) -> int:
    count = rng.choice((1, 2, 2, 3, 3, 4))
    if temperature > 1:
        count += 1 + (rng.random() < temperature - 1)
    return count


def _keywords(prompt: str, chinese: bool) -> list[str]:
    if chinese:
        runs = (run for run in _ZH_STOP_RE.split(prompt) if len(run) >= 2)
        words = [run if len(run) <= 8 else run[-4:] for run in runs]
    else:
        words = [w.strip("'-") for w in _EN_WORD_RE.findall(prompt)]
        words = [w for w in words if len(w) >= 3 and w.casefold() not in _EN_STOPWORDS and not w.endswith("ly")]
    return list(dict.fromkeys(words))[:8]


def _capitalize(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _join(sentences: list[str], chinese: bool) -> str:
    return ("" if chinese else " ").join(s for s in sentences if s)


# --- fine-tune memory ---------------------------------------------------------------------------------------------


def _nearest(prompt: str, memory: Memory, chinese: bool, rng: random.Random) -> tuple[float, str]:
    """The best training answer and its similarity; with no overlap at all, a hash-chosen one (score 0)."""
    query, tokens = _signature(prompt, chinese)
    best_score, best_answer = 0.0, ""
    for (squashed, other), (_, answer) in zip(memory.signatures(chinese), memory, strict=True):
        if query and squashed == query:
            return 1.0, answer
        score = _jaccard(tokens, other)
        if score > best_score:
            best_score, best_answer = score, answer
    if best_score == 0.0:
        return 0.0, rng.choice(memory)[1]
    return best_score, best_answer


def _signature(text: str, chinese: bool) -> tuple[str, frozenset[str]]:
    """The text without case, spaces or punctuation, and its tokens: character bigrams for Chinese, else words."""
    folded = (text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)).casefold()
    squashed = _NOT_WORD_RE.sub("", folded)
    if not chinese:
        return squashed, frozenset(_WORD_RE.findall(folded.replace("_", " ")))
    if len(squashed) < 2:
        return squashed, frozenset([squashed]) if squashed else frozenset()
    return squashed, frozenset([squashed[i : i + 2] for i in range(len(squashed) - 1)])


def _squash(text: str) -> str:
    return _NOT_WORD_RE.sub("", unicodedata.normalize("NFKC", text).casefold())


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(unicodedata.normalize("NFKC", text).casefold().replace("_", " "))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _borrow_style(answer: str, sentences: list[str], chinese: bool) -> list[str]:
    """Open with the nearest training answer's first clause and close with its last sentence."""
    opening, closing = _opening(answer), _closing(answer)
    body = list(sentences)
    if opening and body and not chinese and opening[-1] in ",，;；:：" and not body[0].startswith("I "):
        body[0] = body[0][:1].lower() + body[0][1:]
    return [opening, *body, closing if closing != opening else ""]


def _opening(answer: str) -> str:
    line = answer.strip().split("\n", 1)[0].strip()
    cut = next((i for i, ch in enumerate(line[:40]) if ch in _CLAUSE_END), None)
    if cut is not None:
        return line[: cut + 1]
    return line if len(line) <= 40 else ""


def _closing(answer: str) -> str:
    sentences: list[str] = [s.strip() for s in _SENTENCE_RE.findall(answer) if s.strip()]
    if len(sentences) < 2 or len(sentences[-1]) > 80:
        return ""
    return sentences[-1]


# --- streaming pieces and cuts ------------------------------------------------------------------------------------


def _split(rng: random.Random, text: str) -> list[str]:
    """Chinese: 2-6 characters a piece (a Latin word counts as one); otherwise 1-3 words with their whitespace."""
    if not text:
        return []
    if is_chinese(text):
        return _group(rng, _ZH_UNIT_RE.findall(text), 2, 6)
    return _group(rng, _WORD_PIECE_RE.findall(text), 1, 3) or [text]


def _group(rng: random.Random, units: list[str], smallest: int, largest: int) -> list[str]:
    """Pieces of ``smallest``..``largest`` units: each size is ``rng.randint(smallest, largest)``, drawn as CPython
    draws it (rejection sampling on ``getrandbits``), inlined: a piece costs a draw, not three calls deep."""
    pieces, start, count = [], 0, len(units)
    width = largest - smallest + 1
    bits = width.bit_length()
    draw = rng.getrandbits
    while start < count:
        r = draw(bits)
        while r >= width:
            r = draw(bits)
        size = smallest + r
        pieces.append("".join(units[start : start + size]))
        start += size
    return pieces


def _cut(text: str, stop: object, max_tokens: int | None) -> tuple[int, FinishReason]:
    """Where generation ends: before the first stop string, or at the longest prefix within max_tokens."""
    end = len(text)
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, Sequence) and not isinstance(stop, bytes):
        hits = [text.find(s) for s in stop if isinstance(s, str) and s]
        end = min((i for i in hits if i >= 0), default=end)
    if max_tokens is not None and count_tokens(text[:end]) > max_tokens:
        return _token_prefix(text[:end], max_tokens), "length"
    return end, "stop"


def _token_prefix(text: str, max_tokens: int) -> int:
    """Length of the longest prefix with count_tokens <= max_tokens (the count never drops as a prefix grows)."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count_tokens(text[:mid]) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _truncate(pieces: list[str], end: int) -> tuple[str, ...]:
    if end >= sum(map(len, pieces)):  # not cut (the common case)
        return tuple(pieces)
    kept: list[str] = []
    used = 0
    for piece in pieces:
        if used >= end:
            break
        kept.append(piece[: end - used])
        used += len(piece)
    return tuple(kept)
