"""What the language model is told: persona, measured facts, scores, and the task.

Every prompt carries the same grounding block, so whatever section the model
writes rests on the numbers the app measured (and shows next to it).
"""

from __future__ import annotations

from dataclasses import dataclass

from critique_app.core.critic.personas import Persona
from critique_app.core.critic.sections import EMOTIONS

SECTION_TASKS = {
    "description": "Describe in two or three sentences what the photo shows: the subject, the "
                   "setting and what is happening. Say only what you can support.",
    "impression": "In two or three sentences, say what the photo makes a viewer feel or think: "
                  "its mood, and the story or meaning it suggests.",
    "evaluation": "In three or four sentences, explain which visual elements (light, colour, "
                  "composition, focus, depth) create that impression, for better or worse. "
                  "Quote the measured numbers you rely on.",
    "emotion": "Which one emotion does this photo evoke most: " + ", ".join(EMOTIONS) + "?",
    "suggestions": "The measured problems and their fixes are listed below. In two or three "
                   "sentences, add what else would most improve this photo (framing, moment, "
                   "light), without repeating them.",
}


@dataclass
class PromptContext:
    persona: Persona
    facts: str  # "- sentence" lines
    scores: str = ""  # one line per score, or empty
    labels: str = ""  # the classifier's labels (text-only models cannot see the photo)
    sees_photo: bool = True


def system_text(context: PromptContext) -> str:
    lines = [f"You are {context.persona.description}. You critique photographs in plain, "
             "specific English."]
    if not context.sees_photo:
        lines.append("You cannot see the photo. Rely only on the classifier's labels and the "
                     "measurements below, and do not invent details they do not support.")
    return " ".join(lines)


def grounding_text(context: PromptContext) -> str:
    parts = []
    if context.labels:
        parts.append(f"An image classifier recognises: {context.labels}.")
    if context.facts:
        parts.append("Measured facts about the photo:\n" + context.facts)
    if context.scores:
        parts.append("Aesthetic scores from score models:\n" + context.scores)
    return "\n\n".join(parts)


def section_messages(context: PromptContext, section: str, *, extra: str = "") -> list[dict]:
    """Chat messages asking for one section."""
    task = SECTION_TASKS[section]
    if extra:
        task = f"{task}\n\n{extra}"
    user = f"{grounding_text(context)}\n\n{task}".strip()
    return [{"role": "system", "content": system_text(context)},
            {"role": "user", "content": user}]
