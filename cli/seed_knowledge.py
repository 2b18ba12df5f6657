# The Chinese texts here use Chinese punctuation and en dashes on purpose.
# ruff: noqa: RUF001
"""Demo help articles: a few short, obviously fake but useful articles in English and Chinese
(one in English only, to show the fallback), written through the knowledge services as the
system, so they are audited like staff's. Idempotent: nothing is written once a demo category
exists."""

from __future__ import annotations

from sqlalchemy import select

from core.audit.service import SYSTEM
from core.db import Database
from core.settings import Settings
from knowledge import articles, categories
from knowledge.models import ArticleStatus, Category

CATEGORIES = (
    ("getting-started", "Getting started", "入门指南"),
    ("funding", "Deposits and withdrawals", "入金与出金"),
    ("trading", "Trading accounts", "交易账户"),
)
ARTICLES: tuple[tuple[str, str, str, str, str, str], ...] = (
    (
        "getting-started",
        "verify-your-identity",
        "Verifying your identity",
        "Before you trade with real money we must know who you are.\n\n"
        "1. Open **Verification** in the menu.\n"
        "2. Fill in your profile and answer the short questionnaire.\n"
        "3. Upload a photo of your ID and a proof of address (JPEG, PNG or PDF).\n\n"
        "Our compliance team usually decides within one business day. "
        "*This is demo text for the BrokerDesk demo broker.*",
        "验证您的身份",
        "在使用真实资金交易之前，我们需要确认您的身份。\n\n"
        "1. 在菜单中打开**身份验证**。\n"
        "2. 填写个人资料并回答简短的问卷。\n"
        "3. 上传身份证件照片和地址证明（JPEG、PNG 或 PDF）。\n\n"
        "合规团队通常会在一个工作日内完成审核。*本文为 BrokerDesk 演示经纪商的示例内容。*",
    ),
    (
        "funding",
        "deposit-by-bank-wire",
        "Depositing by bank wire",
        "## Steps\n\n"
        "- Open **Funding** and choose *Bank wire*.\n"
        "- Send the money from an account in **your own name** to the demo bank details shown.\n"
        "- Upload the transfer receipt so finance can match it.\n\n"
        "> Wires usually arrive in 1–2 business days. Card deposits are credited at once.",
        "通过银行电汇入金",
        "## 步骤\n\n"
        "- 打开**资金**页面，选择*银行电汇*。\n"
        "- 从**您本人名下**的账户向页面显示的演示银行账户汇款。\n"
        "- 上传汇款凭证，方便财务核对。\n\n"
        "> 电汇通常在 1–2 个工作日内到账。银行卡入金即时到账。",
    ),
    (
        "funding",
        "withdrawal-time",
        "How long does a withdrawal take?",
        "We review withdrawals within **one business day**; large amounts need a second approver. "
        "The money then reaches your bank in 1–3 business days.\n\n"
        "The amount is reserved in your wallet from the moment you ask, so it can't be spent twice. "
        "See [your funding page](/funding) for the status of each request.",
        "提款需要多长时间？",
        "我们会在**一个工作日内**审核出金申请；大额出金需要第二位审批人。"
        "资金随后在 1–3 个工作日内到达您的银行账户。\n\n"
        "从您提交申请起，该金额就会在钱包中冻结，不会被重复使用。"
        "每笔申请的状态请查看[资金页面](/funding)。",
    ),
    (
        "trading",
        "change-leverage",
        "Changing your leverage",
        "Open your account under **Trading accounts** and ask for a new leverage. "
        "Dealing approves the change; it applies to new positions.\n\n"
        "- Lower leverage means smaller positions and smaller losses.\n"
        "- Your demo broker offers 1:50, 1:100 and 1:200.",
        "",
        "",
    ),
)


async def seed_knowledge(database: Database, settings: Settings) -> list[str]:
    line = f"help centre: {len(ARTICLES)} demo articles at /help in the portal (edit them at /knowledge)"
    async with database.transaction() as session:
        if await session.scalar(select(Category.id).where(Category.slug == CATEGORIES[0][0])) is not None:
            return [line]
        ids: dict[str, int] = {}
        for position, (slug, name_en, name_zh) in enumerate(CATEGORIES):
            data = categories.CategoryInput(slug, name_en, name_zh, position)
            ids[slug] = (await categories.save_category(session, data, SYSTEM)).id
        for position, (category, slug, title_en, body_en, title_zh, body_zh) in enumerate(ARTICLES):
            texts = [articles.TranslationInput("en", title_en, body_en)]
            if title_zh:
                texts.append(articles.TranslationInput("zh_Hans", title_zh, body_zh))
            row = await articles.create_article(
                session, articles.ArticleInput(slug, ids[category], position, tuple(texts)), SYSTEM
            )
            await articles.set_status(session, row.id, ArticleStatus.PUBLISHED, SYSTEM)
    return [line]
